#!/usr/bin/env python3
"""Generates Tests/AnalyticsTests/Fixtures/talib-reference.json: TA-Lib's SMA, EMA, RSI, MACD and Bollinger Bands
over synthetic closes, as the reference the Analytics tests compare against (1e-9 relative).

Run once with `pip install ta-lib==0.8.2` (the wheel bundles the C library); the output is committed.
"""
import json
import math
import random
import sys

import numpy
import talib

random.seed(20261125)
closes = []
price = 30000.0
for index in range(400):
    if 150 <= index < 170:
        pass  # a flat stretch: RSI's gains and losses both go to zero
    else:
        price *= math.exp(random.gauss(0, 0.004))
    closes.append(round(price, 2))
series = numpy.array(closes, dtype=float)


def column(values):
    return [None if math.isnan(value) else float(value) for value in values]


macd, signal, histogram = talib.MACD(series, fastperiod=12, slowperiod=26, signalperiod=9)
upper, middle, lower = talib.BBANDS(series, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
fixture = {
    "source": "TA-Lib %s via ta-lib==0.8.2 (python), scripts/generate-indicator-fixture.py" % talib.__ta_version__.decode().split(" ")[0],
    "closes": closes,
    "sma_20": column(talib.SMA(series, timeperiod=20)),
    "ema_20": column(talib.EMA(series, timeperiod=20)),
    "rsi_14": column(talib.RSI(series, timeperiod=14)),
    "macd_12_26_9": {"macd": column(macd), "signal": column(signal), "histogram": column(histogram)},
    "bbands_20_2": {"upper": column(upper), "middle": column(middle), "lower": column(lower)},
}
path = sys.argv[1] if len(sys.argv) > 1 else "Tests/AnalyticsTests/Fixtures/talib-reference.json"
with open(path, "w") as handle:
    json.dump(fixture, handle, indent=None, separators=(",", ":"))
    handle.write("\n")
