"""Prompt-side speed: linting one prompt (target ≤ 5 ms, it runs on every keystroke), loading the
packaged template library from its YAML files (≤ 50 ms, cold, no cache) and reading one experiment
file into jobs (≤ 50 ms). These were timing assertions in the unit tests; here they are figures
beside targets."""

from __future__ import annotations

from bench._common import median, pin_to_one_core, report, timeit
from workbench.batch.experiments import load_experiment
from workbench.lint import lint
from workbench.templates import TemplateLibrary, package_folder

PROMPTS = [
    "A white leather sneaker on dark concrete, soft overhead studio light, subtle shadow underneath, "
    "product photography, 4K",
    "A matte black water bottle on a white marble surface, soft diffused light from the left, minimal "
    "composition, headline text reading 'MOVE FORWARD'",
    "a cosy reading nook by a rain-streaked window, warm lamp light, watercolour illustration",
    # One that trips most rules: several subjects, clashing light, a pixel size, a vague sign.
    "a sign that says SALE, a cat, a dog, a car and a rocket, bright midday sun, moody night, brand "
    "colours, 1920x1080",
]


def main() -> None:
    where = pin_to_one_core()
    per_prompt = [t / len(PROMPTS) for t in timeit(lambda: [lint(p) for p in PROMPTS], repeat=30)]
    folder = package_folder()
    load = timeit(lambda: TemplateLibrary.load(folder), repeat=7)
    library = TemplateLibrary.load(folder)
    experiment = timeit(lambda: load_experiment("product-lighting", templates=library), repeat=7)
    report(
        "prompts",
        [
            {
                "name": "lint one prompt (median)",
                "value": median(per_prompt),
                "unit": "ms",
                "target": 5,
                "pinned": where,
            },
            {
                "name": "load the packaged templates (median)",
                "value": median(load),
                "unit": "ms",
                "target": 50,
            },
            {
                "name": "read product-lighting into 12 jobs (median)",
                "value": median(experiment),
                "unit": "ms",
                "target": 50,
            },
        ],
    )


if __name__ == "__main__":
    main()
