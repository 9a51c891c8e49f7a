"""Demand forecasts by SKU × location: history, models chosen by backtest, forecasts with intervals (docs/forecast.md)."""
