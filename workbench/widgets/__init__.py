"""Notebook front ends (anywidget and ipywidgets); each widget's JavaScript sits beside its class."""
