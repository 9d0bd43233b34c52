/// The Analytics chart's script: pan, zoom and scroll back through history over the page's server-drawn first paint.
///
/// It draws the same marks in the same form as the server (`CandlestickLayout.svg`, `PaneCharts`: one path per kind of
/// mark, the same frame read from `data-frame`, the same scales and ticks), so a window looks the same drawn by either,
/// and a thousand candles are a handful of elements to redraw per frame. Older and newer windows come from
/// `/api/chart/{symbol}`, one request each. After each move the URL names the window shown (`from`/`to`), so it can be
/// bookmarked and reloads, with or without the script, as the same candles.
extension Assets {
    static let chartJavaScript = #"""
        (function () {
          var view = document.getElementById("chart-view");
          var dataElement = document.getElementById("chart-data");
          if (!view || !dataElement) return;
          var initial = JSON.parse(dataElement.textContent);
          var f = view.getAttribute("data-frame").split(" ").map(Number);
          var W = f[0], H = f[1], plotLeft = f[2], plotRight = f[0] - f[3], top = f[4], plotBottom = f[1] - f[5];
          var volumeHeight = (plotBottom - top) * f[6], priceBottom = plotBottom - volumeHeight - f[7];
          var volumeTop = plotBottom - volumeHeight, paneHeight = f[8], paneTop = f[9], paneBottom = f[8] - f[10];
          var plotWidth = plotRight - plotLeft;
          var svgs = { candles: view.querySelector("svg.candles"), rsi: view.querySelector("svg.rsi"), macd: view.querySelector("svg.macd") };
          var readout = document.getElementById(view.getAttribute("data-readout"));
          var symbol = initial.symbol, interval = initial.interval;
          // The zoom's bounds (ChartView.minimumCandles, ChartWindow.maximumCandles) come from the page; KEEP caps memory.
          var bounds = view.getAttribute("data-candles").split(" ").map(Number), MIN = bounds[0], MAX = bounds[1], KEEP = 20000;
          function prepare(c) {
            return { t: c.open_time, o: c.open, h: c.high, l: c.low, c: c.close, v: c.volume, closed: c.closed,
              open: +c.open, high: +c.high, low: +c.low, close: +c.close, volume: +c.volume, rsi: c.rsi, macd: c.macd,
              signal: c.macd_signal, hist: c.macd_histogram, upper: c.bollinger_upper, middle: c.bollinger_middle,
              lower: c.bollinger_lower };
          }
          var candles = initial.candles.map(prepare);
          var reachesOldest = initial.reaches_oldest, reachesNewest = initial.reaches_newest;
          // The view: `start` is the (fractional) index at the plot's left edge, `count` the candles across it.
          var start = 0, count = Math.max(candles.length, 1);
          var loading = { older: false, newer: false }, failedAt = 0, pending = false, hover = null;
          // Until someone moves the chart, the URL stays as it was and nothing more is fetched.
          var moved = false;
          var stats = { frames: [], loads: [] };

          // Hundredths rounded half away from zero, as the server's `SVG.number` (Math.round alone rounds -0.5 up).
          function number(value) {
            if (!isFinite(value)) return "0";
            var rounded = Math.round(Math.abs(value) * 100) / 100;
            return String(value < 0 && rounded !== 0 ? -rounded : rounded);
          }
          function scale(values, from, to, includeZero) {
            var lower = Infinity, upper = -Infinity;
            for (var i = 0; i < values.length; i++) {
              var v = values[i];
              if (v !== null && isFinite(v)) { if (v < lower) lower = v; if (v > upper) upper = v; }
            }
            if (lower > upper) { lower = 0; upper = 1; }
            if (includeZero) { lower = Math.min(lower, 0); upper = Math.max(upper, 0); }
            if (includeZero && lower === 0 && upper === 0) upper = 1;
            else if (upper - lower <= Math.abs(upper) * 1e-12) {
              var pad = upper === 0 ? 1 : Math.abs(upper) * 0.01; lower -= pad; upper += pad;
            }
            var half = upper / 2 - lower / 2;
            return {
              position: function (v) { return from + (v / 2 - lower / 2) / half * (to - from); },
              ticks: function (wanted) {
                var step = niceStep(half / wanted * 2), ticks = [];
                if (!(step > 0) || !isFinite(step)) return ticks;
                for (var v = Math.ceil(lower / step) * step; isFinite(v) && v <= upper + step * 1e-9 && ticks.length < 50; v += step) {
                  ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
                }
                return ticks;
              }
            };
          }
          function niceStep(raw) {
            if (!(raw > 0) || !isFinite(raw)) return 0;
            var magnitude = 1;
            while (magnitude * 10 <= raw) magnitude *= 10;
            while (magnitude > raw) magnitude /= 10;
            var factors = [1, 2, 5, 10];
            for (var i = 0; i < factors.length; i++) if (magnitude * factors[i] >= raw * (1 - 1e-12)) return magnitude * factors[i];
            return magnitude * 10;
          }
          function label(value, step) {
            var decimals = 0, scaled = step;
            while (decimals < 8 && isFinite(scaled) && Math.abs(scaled - Math.round(scaled)) > 1e-9 * Math.max(1, Math.abs(scaled))) {
              scaled *= 10; decimals += 1;
            }
            return value.toFixed(decimals);
          }
          function iso(t) { return new Date(t).toISOString(); }
          var MINUTE = 60000, HOUR = 3600000, DAY = 86400000;
          var FIXED = [1, 2, 5, 10, 15, 30].map(function (m) { return m * MINUTE; })
            .concat([1, 2, 3, 6, 12].map(function (h) { return h * HOUR; }), [DAY, 2 * DAY]);
          // The interval's length as the server's TimeTicks counts it (a month as 30 days).
          var length = Number(view.getAttribute("data-interval-ms")) || MINUTE;
          // Labels on candles opening at round UTC times, about six across: the rule of the server's `TimeTicks`.
          function tickRule() {
            var candlesAcross = Math.max(Math.round(count), 1), target = Math.floor(length * candlesAcross / 6);
            var every = Math.max(1, Math.floor(candlesAcross / 6));
            for (var k = 0; k < FIXED.length; k++) {
              var step = FIXED[k];
              if (step >= target && step >= length && step % length === 0) return function (t) { return t % step === 0; };
            }
            if (interval === "1M" || DAY % length === 0) {
              if (7 * DAY >= target && interval !== "1M") {
                return function (t) { return t % DAY === 0 && ((Math.floor(t / DAY) % 7) + 7) % 7 === 4; };
              }
              var months = [1, 3, 6, 12].filter(function (m) { return m * 30 * DAY >= target; })[0];
              if (months) {
                return function (t) {
                  var d = new Date(t);
                  return d.getUTCDate() === 1 && t % DAY === 0 && d.getUTCMonth() % months === 0;
                };
              }
            }
            return function (t) { return Math.floor(t / length) % every === 0; };
          }
          function timeLabel(t) {
            var text = iso(t), date = text.slice(0, 10), time = text.slice(11, 16);
            if ((interval === "1m" || interval === "1s") && t % DAY === 0) return date.slice(5);
            if (interval === "1m" || interval === "1s") return time;
            if (interval === "1d" || interval === "3d" || interval === "1w") return date;
            if (interval === "1M") return date.slice(0, 7);
            return date.slice(5) + " " + time;
          }
          function rectangle(x, y, width, height) {
            return "M" + number(x) + "," + number(y) + "h" + number(width) + "v" + number(height) + "h" + number(-width) + "z";
          }
          function clip(name, height) {
            return '<defs><clipPath id="chart-clip-' + name + '"><rect x="' + number(plotLeft) + '" y="0" width="' +
              number(plotWidth) + '" height="' + number(height) + '"/></clipPath></defs>';
          }
          function axisLine(x1, x2, y, className) {
            return "<line" + (className ? ' class="' + className + '"' : "") + ' x1="' + number(x1) + '" x2="' + number(x2) +
              '" y1="' + number(y) + '" y2="' + number(y) + '"/>';
          }
          function text(x, y, content, anchor) {
            return '<text x="' + number(x) + '" y="' + number(y) + '"' + (anchor ? ' text-anchor="' + anchor + '"' : "") + ">" +
              content + "</text>";
          }

          // One frame's geometry in the charts' own units (their viewBox): what both painters draw.
          function scene() {
            var slot = plotWidth / count, width = Math.min(Math.max(slot * 0.7, 1), 24);
            function x(i) { return plotLeft + (i - start + 0.5) * slot; }
            // Candles whose centre is inside the plot set the scales and get time labels.
            var shownFirst = Math.max(0, Math.ceil(start - 0.5)), shownLast = Math.min(candles.length - 1, Math.floor(start + count - 0.5));
            // Marks are drawn for the candles whose body reaches into the plot (at whole-candle positions, exactly the
            // window's, as the server draws them); lines run one candle further each way, to the clipped edge.
            var reach = width / 2 / slot;
            var markFirst = Math.max(0, Math.ceil(start - 0.5 - reach)), markLast = Math.min(candles.length - 1, Math.floor(start + count - 0.5 + reach));
            var drawFirst = Math.max(0, markFirst - 1), drawLast = Math.min(candles.length - 1, markLast + 1);
            var prices = [], volumes = [], macdValues = [], i, c;
            for (i = shownFirst; i <= shownLast; i++) {
              c = candles[i];
              prices.push(c.high, c.low, c.upper, c.lower);
              volumes.push(c.volume);
              macdValues.push(c.macd, c.signal, c.hist);
            }
            var price = scale(prices, priceBottom, top), volume = scale(volumes, plotBottom, volumeTop, true);
            var macd = scale(macdValues, paneBottom, paneTop, true), zero = macd.position(0);
            function line(key, position) {
              var out = [];
              for (var j = drawFirst; j <= drawLast; j++) {
                var v = candles[j][key];
                if (v !== null && isFinite(v)) out.push([x(j), position(v)]);
              }
              return out;
            }
            var frame = {
              priceTicks: [], times: [], wicks: { up: [], down: [] }, bodies: { up: [], down: [] }, volume: [],
              hist: { up: [], down: [] }, macdZero: zero, macdTicks: [],
              bands: { upper: line("upper", price.position), middle: line("middle", price.position), lower: line("lower", price.position) },
              rsi: line("rsi", rsiScale.position), macd: line("macd", macd.position), signal: line("signal", macd.position)
            };
            var ticks = price.ticks(5), step = ticks.length > 1 ? ticks[1] - ticks[0] : 0;
            ticks.forEach(function (tick) { frame.priceTicks.push({ y: price.position(tick), text: label(tick, step) }); });
            var macdTicks = macd.ticks(3), macdStep = macdTicks.length > 1 ? macdTicks[1] - macdTicks[0] : 0;
            macdTicks.forEach(function (tick) { frame.macdTicks.push({ y: macd.position(tick), text: label(tick, macdStep) }); });
            for (i = markFirst; i <= markLast; i++) {
              c = candles[i];
              var cx = x(i), bodyTop = price.position(Math.max(c.open, c.close)), bodyBottom = price.position(Math.min(c.open, c.close));
              var side = c.close >= c.open ? "up" : "down";
              frame.wicks[side].push([cx, price.position(c.high), price.position(c.low)]);
              frame.bodies[side].push([cx - width / 2, bodyTop, width, Math.max(bodyBottom - bodyTop, 1)]);
              var barTop = volume.position(c.volume);
              frame.volume.push([cx - width / 2, barTop, width, plotBottom - barTop]);
              var h = c.hist;
              if (h !== null && isFinite(h)) {
                var y = macd.position(h);
                frame.hist[h >= 0 ? "up" : "down"].push([cx - width / 2, Math.min(y, zero), width, Math.max(Math.abs(zero - y), 0.5)]);
              }
            }
            var isTick = tickRule();
            for (i = shownFirst; i <= shownLast; i++) {
              if (isTick(candles[i].t)) frame.times.push({ x: x(i), text: timeLabel(candles[i].t) });
            }
            if (!frame.times.length && shownFirst <= shownLast) frame.times.push({ x: x(shownFirst), text: timeLabel(candles[shownFirst].t) });
            return frame;
          }

          // At rest: the SVG, in the server's form (one path per kind of mark), so it matches the server's drawing exactly.
          function paintSVG(frame) {
            function rectangles(list) {
              var d = "";
              for (var k = 0; k < list.length; k++) d += rectangle(list[k][0], list[k][1], list[k][2], list[k][3]);
              return d;
            }
            function wicks(list) {
              var d = "";
              for (var k = 0; k < list.length; k++) d += "M" + number(list[k][0]) + "," + number(list[k][1]) + "V" + number(list[k][2]);
              return d;
            }
            function points(list) { return list.map(function (p) { return number(p[0]) + "," + number(p[1]); }).join(" "); }
            marks.priceAxis.innerHTML = frame.priceTicks.map(function (tick) {
              return axisLine(plotLeft, plotRight, tick.y) + text(plotRight + 6, tick.y + 4, tick.text);
            }).join("");
            ["upper", "middle", "lower"].forEach(function (band) { marks[band].setAttribute("points", points(frame.bands[band])); });
            marks.wicksUp.setAttribute("d", wicks(frame.wicks.up));
            marks.wicksDown.setAttribute("d", wicks(frame.wicks.down));
            marks.bodiesUp.setAttribute("d", rectangles(frame.bodies.up));
            marks.bodiesDown.setAttribute("d", rectangles(frame.bodies.down));
            marks.volume.setAttribute("d", rectangles(frame.volume));
            marks.timeAxis.innerHTML = frame.times.map(function (tick) { return text(tick.x, H - 6, tick.text, "middle"); }).join("");
            marks.rsi.setAttribute("points", points(frame.rsi));
            marks.macdAxis.innerHTML = axisLine(plotLeft, plotRight, frame.macdZero) + frame.macdTicks.map(function (tick) {
              return text(plotRight + 6, tick.y + 4, tick.text);
            }).join("");
            marks.histogramUp.setAttribute("d", rectangles(frame.hist.up));
            marks.histogramDown.setAttribute("d", rectangles(frame.hist.down));
            marks.macd.setAttribute("points", points(frame.macd));
            marks.signal.setAttribute("points", points(frame.signal));
          }

          // While moving: the same geometry on canvases laid over the SVGs. A browser without a GPU rasterises a
          // thousand SVG candles too slowly for every frame; a canvas keeps up, and the SVG returns when the view settles.
          var canvases = null, colors = null;
          function showCanvases() {
            if (!canvases) {
              var css = getComputedStyle(document.documentElement), color = function (name) { return css.getPropertyValue(name).trim(); };
              colors = { up: color("--up"), down: color("--down"), accent: color("--accent"), warn: color("--warn"), line: color("--line"),
                muted: color("--muted"), band: "rgba(47, 111, 222, 0.7)", font: getComputedStyle(document.body).fontFamily };
              canvases = {};
              Object.keys(svgs).forEach(function (name) {
                var canvas = document.createElement("canvas");
                canvas.className = "chart-canvas";
                canvas.setAttribute("aria-hidden", "true");
                view.appendChild(canvas);
                canvases[name] = canvas;
              });
            }
            var outer = view.getBoundingClientRect(), ratio = window.devicePixelRatio || 1;
            Object.keys(svgs).forEach(function (name) {
              var box = svgs[name].getBoundingClientRect(), canvas = canvases[name];
              canvas.style.left = (box.left - outer.left) + "px";
              canvas.style.top = (box.top - outer.top) + "px";
              canvas.style.width = box.width + "px";
              canvas.style.height = box.height + "px";
              canvas.width = Math.max(1, Math.round(box.width * ratio));
              canvas.height = Math.max(1, Math.round(box.height * ratio));
            });
          }
          function paintCanvas(frame) {
            function context(name, height) {
              var canvas = canvases[name], g = canvas.getContext("2d");
              g.setTransform(canvas.width / W, 0, 0, canvas.height / height, 0, 0);
              g.clearRect(0, 0, W, height);
              g.font = "11px " + colors.font;
              return g;
            }
            function grid(g, y) { g.moveTo(plotLeft, y); g.lineTo(plotRight, y); }
            function labels(g, ticks) { g.fillStyle = colors.muted; ticks.forEach(function (tick) { g.fillText(tick.text, plotRight + 6, tick.y + 4); }); }
            function clipTo(g, height) { g.save(); g.beginPath(); g.rect(plotLeft, 0, plotWidth, height); g.clip(); }
            function polyline(g, list, color, width, dash) {
              if (!list.length) return;
              g.beginPath();
              g.setLineDash(dash || []);
              g.strokeStyle = color;
              g.lineWidth = width;
              for (var k = 0; k < list.length; k++) { if (k) g.lineTo(list[k][0], list[k][1]); else g.moveTo(list[k][0], list[k][1]); }
              g.stroke();
              g.setLineDash([]);
            }
            function rectangles(g, list, color) {
              g.fillStyle = color;
              for (var k = 0; k < list.length; k++) g.fillRect(list[k][0], list[k][1], list[k][2], list[k][3]);
            }
            function wicks(g, list, color) {
              g.beginPath();
              g.strokeStyle = color;
              g.lineWidth = 1;
              for (var k = 0; k < list.length; k++) { g.moveTo(list[k][0], list[k][1]); g.lineTo(list[k][0], list[k][2]); }
              g.stroke();
            }
            var g = context("candles", H);
            g.beginPath(); g.strokeStyle = colors.line; g.lineWidth = 1;
            frame.priceTicks.forEach(function (tick) { grid(g, tick.y); });
            g.stroke();
            labels(g, frame.priceTicks);
            g.textAlign = "center";
            frame.times.forEach(function (tick) { g.fillText(tick.text, tick.x, H - 6); });
            g.textAlign = "start";
            clipTo(g, H);
            // Solid bands while moving: dashing a thousand-point line costs more than the rest of the frame.
            polyline(g, frame.bands.upper, colors.band, 1);
            polyline(g, frame.bands.middle, colors.band, 1);
            polyline(g, frame.bands.lower, colors.band, 1);
            wicks(g, frame.wicks.up, colors.up);
            wicks(g, frame.wicks.down, colors.down);
            rectangles(g, frame.bodies.up, colors.up);
            rectangles(g, frame.bodies.down, colors.down);
            rectangles(g, frame.volume, "#b8c2d3");
            g.restore();

            g = context("rsi", paneHeight);
            [30, 50, 70].forEach(function (level) {
              g.beginPath();
              g.strokeStyle = level === 50 ? colors.line : "#c7ccd5";
              g.setLineDash(level === 50 ? [] : [3, 3]);
              grid(g, rsiScale.position(level));
              g.stroke();
            });
            g.setLineDash([]);
            labels(g, [30, 50, 70].map(function (level) { return { y: rsiScale.position(level), text: String(level) }; }));
            clipTo(g, paneHeight);
            polyline(g, frame.rsi, colors.accent, 1.5);
            g.restore();

            g = context("macd", paneHeight);
            g.beginPath(); g.strokeStyle = colors.line; g.lineWidth = 1; grid(g, frame.macdZero); g.stroke();
            labels(g, frame.macdTicks);
            clipTo(g, paneHeight);
            rectangles(g, frame.hist.up, "#9bd9b3");
            rectangles(g, frame.hist.down, "#f2a9ad");
            polyline(g, frame.macd, colors.accent, 1.5);
            polyline(g, frame.signal, colors.warn, 1.5);
            g.restore();
          }

          function render() {
            pending = false;
            var began = performance.now();
            var frame = scene();
            // The crosshair is part of the SVG, hidden while the canvases show the moving view.
            if (view.classList.contains("moving")) paintCanvas(frame); else { paintSVG(frame); showCrosshair(); }
            stats.frames.push(performance.now() - began);
            if (stats.frames.length > 600) stats.frames.shift();
          }
          function schedule() { if (!pending) { pending = true; requestAnimationFrame(render); } }

          // The elements a frame changes are made once; a frame sets their `d` and `points` (no markup is parsed for the
          // thousands of marks) and rewrites only the few axis labels.
          var rsiScale = scale([0, 100], paneBottom, paneTop);
          var rsiAxis = [];
          [30, 50, 70].forEach(function (level) {
            rsiAxis.push(axisLine(plotLeft, plotRight, rsiScale.position(level), level === 50 ? "" : "guide"),
              text(plotRight + 6, rsiScale.position(level) + 4, String(level)));
          });
          svgs.candles.innerHTML = clip("candles", H) + '<g class="axis price"></g><g clip-path="url(#chart-clip-candles)">' +
            '<g class="bands"><polyline class="band upper" fill="none"/><polyline class="band middle" fill="none"/>' +
            '<polyline class="band lower" fill="none"/></g><g class="series"><path class="wick up"/><path class="wick down"/>' +
            '<path class="body up"/><path class="body down"/><path class="volume"/></g></g><g class="axis time"></g>';
          svgs.rsi.innerHTML = clip("rsi", paneHeight) + '<g class="axis">' + rsiAxis.join("") + '</g>' +
            '<g clip-path="url(#chart-clip-rsi)"><polyline class="line rsi"/></g>';
          svgs.macd.innerHTML = clip("macd", paneHeight) + '<g class="axis"></g><g clip-path="url(#chart-clip-macd)">' +
            '<path class="hist up"/><path class="hist down"/><polyline class="line macd"/><polyline class="line signal"/></g>';
          var marks = {
            priceAxis: svgs.candles.querySelector(".axis.price"), timeAxis: svgs.candles.querySelector(".axis.time"),
            upper: svgs.candles.querySelector(".band.upper"), middle: svgs.candles.querySelector(".band.middle"),
            lower: svgs.candles.querySelector(".band.lower"), wicksUp: svgs.candles.querySelector(".wick.up"),
            wicksDown: svgs.candles.querySelector(".wick.down"), bodiesUp: svgs.candles.querySelector(".body.up"),
            bodiesDown: svgs.candles.querySelector(".body.down"), volume: svgs.candles.querySelector(".volume"),
            rsi: svgs.rsi.querySelector(".line.rsi"), macdAxis: svgs.macd.querySelector(".axis"),
            histogramUp: svgs.macd.querySelector(".hist.up"), histogramDown: svgs.macd.querySelector(".hist.down"),
            macd: svgs.macd.querySelector(".line.macd"), signal: svgs.macd.querySelector(".line.signal")
          };

          var crosshairs = {};
          Object.keys(svgs).forEach(function (name) {
            var line = document.createElementNS("http://www.w3.org/2000/svg", "line");
            line.setAttribute("class", "crosshair");
            line.setAttribute("y1", "0");
            line.setAttribute("y2", svgs[name].viewBox.baseVal.height);
            crosshairs[name] = line;
            svgs[name].appendChild(line);
          });
          function showCrosshair() {
            var index = hover === null ? null : Math.round(start + (hover - plotLeft) / (plotWidth / count) - 0.5);
            var visible = index !== null && index >= 0 && index < candles.length && index >= start - 0.5 && index <= start + count - 0.5;
            Object.keys(crosshairs).forEach(function (name) {
              var line = crosshairs[name];
              if (!visible) { line.style.display = "none"; return; }
              var cx = number(plotLeft + (index - start + 0.5) * plotWidth / count);
              line.setAttribute("x1", cx); line.setAttribute("x2", cx); line.style.display = "";
            });
            if (!visible || !readout) return;
            var c = candles[index], fixed = function (v) { return v === null ? "—" : v.toFixed(2); };
            readout.textContent = iso(c.t).replace("T", " ").slice(0, 16) + " UTC" + (c.closed ? "" : " (open)") + "  O " + c.o +
              "  H " + c.h + "  L " + c.l + "  C " + c.c + "  V " + c.v + "  RSI " + fixed(c.rsi) + "  MACD " + fixed(c.macd);
          }

          function clamp() {
            var n = candles.length;
            var most = reachesOldest && reachesNewest ? Math.max(Math.min(n, MAX), Math.min(MIN, n)) : MAX;
            count = Math.min(Math.max(count, Math.min(MIN, n)), most);
            var lowest = reachesOldest ? 0 : Math.min(0, n - count);
            start = Math.min(Math.max(start, lowest), Math.max(lowest, n - count));
          }
          function svgX(event) {
            var box = svgs.candles.getBoundingClientRect();
            return (event.clientX - box.left) * W / box.width;
          }
          // The view starts moving: it is drawn on the canvases until it settles.
          function moving() {
            moved = true;
            if (view.classList.contains("moving")) return;
            showCanvases();
            view.classList.add("moving");
          }
          function pan(candlesToTheRight) { moving(); start += candlesToTheRight; clamp(); schedule(); }
          function zoom(x, wanted) {
            moving();
            var anchor = start + (x - plotLeft) / (plotWidth / count);
            count = wanted;
            clamp();
            start = anchor - (x - plotLeft) / (plotWidth / count);
            clamp();
            schedule();
          }

          function load(older) {
            var side = older ? "older" : "newer";
            loading[side] = true;
            // The edge the answer continues from: when it moved meanwhile (the other side's answer trimmed it), the
            // answer no longer adjoins the candles and is dropped.
            var edge = older ? candles[0].t : candles[candles.length - 1].t;
            var url = "/api/chart/" + encodeURIComponent(symbol) + "?interval=" + encodeURIComponent(interval) + "&limit=" + MAX +
              (older ? "&end=" + (candles[0].t - 1) : "&start=" + (candles[candles.length - 1].t + 1));
            var began = performance.now();
            fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
              .then(function (response) { if (!response.ok) throw new Error("HTTP " + response.status); return response.json(); })
              .then(function (body) {
                stats.loads.push({ side: side, milliseconds: performance.now() - began, candles: body.candles.length });
                loading[side] = false;
                if (edge !== (older ? candles[0].t : candles[candles.length - 1].t)) return;
                if (older) {
                  var added = body.candles.filter(function (c) { return c.open_time < candles[0].t; }).map(prepare);
                  candles = added.concat(candles);
                  shift(added.length);
                  reachesOldest = body.reaches_oldest || added.length === 0;
                } else {
                  var newest = candles[candles.length - 1].t;
                  var later = body.candles.filter(function (c) { return c.open_time > newest; }).map(prepare);
                  candles = candles.concat(later);
                  reachesNewest = body.reaches_newest || later.length === 0;
                }
                trim();
                clamp();
                schedule();
                // A view in motion (a drag, a pinch, wheel or keys) settles when the motion ends.
                if (view.classList.contains("moving")) loadAround(); else settled();
              })
              .catch(function (error) {
                loading[side] = false;
                failedAt = Date.now();
                if (readout) readout.textContent = "Could not load " + side + " candles (" + error.message + "); move the chart to try again.";
              });
          }
          // Candles were added (or dropped) on the left: the view and a drag in progress stay on the same candles.
          function shift(by) {
            start += by;
            if (gesture && gesture.kind === "drag") gesture.start += by;
          }
          // Keeps at most KEEP candles, dropping those farthest from the view.
          function trim() {
            var extra = candles.length - KEEP;
            if (extra <= 0) return;
            if (start + count / 2 > candles.length / 2) {
              candles = candles.slice(extra); shift(-extra); reachesOldest = false;
            } else {
              candles = candles.slice(0, KEEP); reachesNewest = false;
            }
          }
          function loadAround() {
            if (!moved || !candles.length || Date.now() - failedAt < 5000) return;
            if (!reachesOldest && !loading.older && start < count) load(true);
            if (!reachesNewest && !loading.newer && start + 2 * count > candles.length) load(false);
          }

          // After a move: the view snaps to whole candles, the URL and the links name its window, and the candles around
          // it are fetched when the view nears the end of those loaded.
          var settleTimer = null;
          function settled() {
            clearTimeout(settleTimer);
            // A drag or pinch still under way settles when it ends.
            if (gesture) return;
            view.classList.remove("moving");
            // Whole candles, keeping the one under the pointer there (rounding `start` alone can move it by one).
            var slot = plotWidth / count, anchor = hover === null ? null : Math.round(start + (hover - plotLeft) / slot - 0.5);
            count = Math.round(count);
            slot = plotWidth / count;
            start = anchor === null ? Math.round(start) : anchor - Math.round((hover - plotLeft) / slot - 0.5);
            clamp();
            schedule();
            var first = Math.max(0, start), last = Math.min(candles.length - 1, start + count - 1);
            if (moved && first <= last) {
              var query = "symbol=" + encodeURIComponent(symbol) + "&interval=" + encodeURIComponent(interval);
              // A view ending at the newest candle names its size and follows the present; any other names its window.
              var atPresent = last === candles.length - 1 && reachesNewest;
              history.replaceState(null, "", "/analytics?" + query + (atPresent ? "&limit=" + (last - first + 1) :
                "&from=" + iso(candles[first].t) + "&to=" + iso(candles[last].t)));
              // The form's from/to show the window too (blank at the present), so changing the symbol keeps it.
              [["from", candles[first].t], ["to", candles[last].t]].forEach(function (field) {
                var input = document.querySelector("form.controls input[name=" + field[0] + "]");
                if (input) input.value = atPresent ? "" : iso(field[1]).slice(0, 16);
              });
              updateLinks(query, first, last);
            }
            loadAround();
          }
          function settleSoon() { clearTimeout(settleTimer); settleTimer = setTimeout(settled, 250); }
          function updateLinks(query, first, last) {
            var span = document.getElementById("chart-span");
            var shown = last - first + 1;
            var at = function (t) { return iso(t).replace("T", " ").slice(0, 19) + " UTC"; };
            if (span) span.textContent = at(candles[first].t) + " to " + at(candles[last].t) + " · " + shown + " candles";
            var zoomedIn = Math.max(Math.min(MIN, shown), Math.floor(shown / 2)), skip = Math.floor((shown - zoomedIn) / 2);
            var links = {
              older: first > 0 || !reachesOldest ? "to=" + iso(candles[first].t - 1) + "&limit=" + shown : null,
              "zoom-in": zoomedIn < shown ? "from=" + iso(candles[first + skip].t) + "&to=" + iso(candles[first + skip + zoomedIn - 1].t) : null,
              "zoom-out": shown < MAX && (first > 0 || !reachesOldest) ? "to=" + iso(candles[last].t) + "&limit=" + Math.min(MAX, shown * 2) : null,
              newer: last < candles.length - 1 || !reachesNewest ? "from=" + iso(candles[last].t + 1) + "&limit=" + shown : null,
              newest: last < candles.length - 1 || !reachesNewest ? "limit=" + shown : null
            };
            document.querySelectorAll("#chart-nav a[data-move]").forEach(function (link) {
              var target = links[link.getAttribute("data-move")];
              link.hidden = !target;
              link.setAttribute("href", target ? "/analytics?" + query + "&" + target : "#");
            });
            var edge = document.getElementById("chart-edge");
            if (edge) {
              edge.hidden = !(reachesOldest && first === 0);
              edge.querySelectorAll("a[data-interval]").forEach(function (link) { link.hidden = candles[0].t <= 0; });
              edge.querySelectorAll("a[data-interval]").forEach(function (link) {
                link.setAttribute("href", "/analytics?symbol=" + encodeURIComponent(symbol) + "&interval=" +
                  link.getAttribute("data-interval") + "&to=" + iso(candles[0].t - 1) + "&limit=120");
              });
            }
          }

          // Pointer input: one pointer drags (mouse or touch), two pinch.
          var pointers = {}, gesture = null;
          function distance(a, b) { return Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY) || 1; }
          // A gesture starts (again) from the pointers down now: one drags, two pinch around their midpoint.
          function begin() {
            var ids = Object.keys(pointers);
            if (ids.length === 1) gesture = { kind: "drag", x: pointers[ids[0]].x, start: start };
            else if (ids.length >= 2) {
              var a = pointers[ids[0]], b = pointers[ids[1]];
              gesture = { kind: "pinch", distance: distance(a, b), count: count, center: (a.x + b.x) / 2 };
            } else gesture = null;
          }
          view.addEventListener("pointerdown", function (event) {
            if (event.button !== 0) return;
            view.focus({ preventScroll: true });
            // A wheel or key move that has not settled yet must not settle in the middle of this gesture.
            clearTimeout(settleTimer);
            pointers[event.pointerId] = { x: svgX(event), clientX: event.clientX, clientY: event.clientY };
            view.setPointerCapture(event.pointerId);
            begin();
            event.preventDefault();
          });
          view.addEventListener("pointermove", function (event) {
            if (event.pointerId in pointers) {
              // A mouse released outside the window (its pointerup lost): the drag ends here.
              if (event.pointerType === "mouse" && event.buttons === 0) return release(event);
              pointers[event.pointerId] = { x: svgX(event), clientX: event.clientX, clientY: event.clientY };
              var ids = Object.keys(pointers);
              if (gesture && gesture.kind === "drag" && ids.length === 1) {
                // A press becomes a drag with its first move (a click or a tap leaves the view as it is).
                moving();
                start = gesture.start - (pointers[ids[0]].x - gesture.x) / (plotWidth / count);
                clamp(); schedule(); loadAround();
              } else if (gesture && gesture.kind === "pinch" && ids.length >= 2) {
                zoom(gesture.center, gesture.count * gesture.distance / distance(pointers[ids[0]], pointers[ids[1]]));
              }
              return;
            }
            hover = svgX(event);
            showCrosshair();
          });
          function release(event) {
            if (!(event.pointerId in pointers)) return;
            delete pointers[event.pointerId];
            hover = svgX(event);
            // The finger left on the glass after a pinch drags from where it is.
            begin();
            if (!gesture && view.classList.contains("moving")) settled();
          }
          view.addEventListener("pointerup", release);
          view.addEventListener("pointercancel", release);
          view.addEventListener("lostpointercapture", release);
          // The canvases follow the SVGs when the window changes size during a move.
          window.addEventListener("resize", function () { if (view.classList.contains("moving")) { showCanvases(); schedule(); } });
          view.addEventListener("pointerleave", function () { hover = null; showCrosshair(); });
          view.addEventListener("wheel", function (event) {
            event.preventDefault();
            var unit = event.deltaMode === 1 ? 40 : event.deltaMode === 2 ? 800 : 1;
            if (Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
              pan(event.deltaX * unit / (plotWidth / count));
            } else {
              zoom(svgX(event), count * Math.exp(event.deltaY * unit * 0.0015));
            }
            if (!gesture) settleSoon();
          }, { passive: false });
          view.addEventListener("keydown", function (event) {
            // With a modifier the key is the browser's (Ctrl + and − zoom the page).
            if (event.ctrlKey || event.metaKey || event.altKey) return;
            var step = Math.max(1, Math.round(count / 10)), center = (plotLeft + plotRight) / 2;
            if (event.key === "ArrowLeft") pan(-step);
            else if (event.key === "ArrowRight") pan(step);
            else if (event.key === "+" || event.key === "=") zoom(center, count / 1.25);
            else if (event.key === "-" || event.key === "_") zoom(center, count * 1.25);
            else if (event.key === "Home") pan(-candles.length);
            else if (event.key === "End") pan(candles.length);
            else return;
            event.preventDefault();
            // The read-out follows the candle in the middle for someone moving by keys.
            if (hover === null) hover = (plotLeft + plotRight) / 2;
            settleSoon();
          });

          // What the view shows, for people checking it from the browser's console and for the browser tests.
          window.cryptopipeChart = {
            view: function () {
              var first = Math.max(0, Math.round(start)), last = Math.min(candles.length - 1, Math.round(start + count) - 1);
              return { symbol: symbol, interval: interval, start: start, count: count, loaded: candles.length,
                reachesOldest: reachesOldest, reachesNewest: reachesNewest, loading: loading.older || loading.newer,
                times: candles.slice(first, last + 1).map(function (c) { return c.t; }),
                closes: candles.slice(first, last + 1).map(function (c) { return c.c; }) };
            },
            stats: stats
          };
          // The newest minute moves as the streams deliver it (Server-Sent Events from /api/stream/candles/{symbol}):
          // while the chart shows 1m candles up to now, an update replaces the last candle or adds the next one, and a
          // view resting on the right edge keeps the newest candle in sight. Without EventSource the page stays as served.
          // It starts a few seconds after the page loads: tools that take a page as loaded once its network goes quiet
          // (headless renderers, crawlers) would otherwise wait on the open stream for ever.
          if (window.EventSource && interval === "1m") setTimeout(function () {
            var live = new EventSource("/api/stream/candles/" + encodeURIComponent(symbol));
            live.addEventListener("candle", function (message) {
              var update;
              try { update = prepare(JSON.parse(message.data).candle); } catch (error) { return; }
              if (!reachesNewest || candles.length === 0) return;
              var last = candles[candles.length - 1];
              if (update.t === last.t) {
                // The indicators of the last candle stay the server's until the page loads it again.
                ["rsi", "macd", "signal", "hist", "upper", "middle", "lower"].forEach(function (key) { update[key] = last[key]; });
                candles[candles.length - 1] = update;
              } else if (update.t > last.t) {
                var atEdge = start + count >= candles.length - 0.5;
                candles.push(update);
                if (atEdge) start += 1;
                trim();
                clamp();
              } else {
                return;
              }
              schedule();
            });
            window.addEventListener("pagehide", function () { live.close(); });
          }, 4000);

          // Focus, keys and their description only with the script that answers them.
          view.classList.add("interactive");
          view.setAttribute("tabindex", "0");
          view.setAttribute("aria-label", view.getAttribute("aria-label") +
            ": drag or use the arrow keys to move through time, the wheel, a pinch or + and − to zoom");
          render();
        })();
        """#
}
