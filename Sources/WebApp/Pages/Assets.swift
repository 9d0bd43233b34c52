/// The stylesheet and the one script, served from the binary: no build step, no CDN, no network.
enum Assets {
    static let css = """
        :root { --bg: #f5f6f8; --panel: #fff; --ink: #1d2330; --muted: #667085; --line: #e3e6eb; --accent: #2f6fde;
          --up: #12a150; --down: #d9363e; --warn: #b7791f; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
        header { background: #151b28; color: #fff; }
        header .bar { max-width: 1400px; margin: 0 auto; padding: 0 16px; display: flex; align-items: center; gap: 24px; min-height: 52px; flex-wrap: wrap; }
        header .brand { font-weight: 700; letter-spacing: .02em; }
        header nav a { color: #c9d1e0; text-decoration: none; padding: 16px 10px; display: inline-block; border-bottom: 3px solid transparent; }
        header nav a.current, header nav a:hover { color: #fff; border-bottom-color: var(--accent); }
        header .session { margin-left: auto; display: flex; gap: 8px; align-items: center; color: #c9d1e0; }
        header .session form { margin: 0; }
        header .session a { color: #fff; }
        input.seconds { width: 6em; }
        form.spaced { margin-top: 12px; }
        main { max-width: 1400px; margin: 0 auto; padding: 20px 16px 48px; }
        h1 { font-size: 22px; margin: 0 0 16px; }
        h2 { font-size: 16px; margin: 0 0 12px; }
        .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin-bottom: 16px; overflow-x: auto; }
        .grid { display: grid; gap: 16px; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); }
        .two { display: grid; gap: 16px; grid-template-columns: 1fr 1fr; }
        @media (max-width: 900px) { .two { grid-template-columns: 1fr; } }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
        .card .symbol { font-weight: 700; display: flex; justify-content: space-between; }
        .card .price { font-size: 24px; font-weight: 600; margin: 4px 0; font-variant-numeric: tabular-nums; }
        .card dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 8px 0 0; color: var(--muted); font-size: 12px; }
        .card dd { margin: 0; color: var(--ink); text-align: right; font-variant-numeric: tabular-nums; }
        .up { color: var(--up); } .down { color: var(--down); } .muted { color: var(--muted); }
        .sparkline { width: 100%; height: 48px; display: block; }
        .sparkline polyline { fill: none; stroke-width: 1.5; }
        .sparkline.up polyline { stroke: var(--up); } .sparkline.down polyline { stroke: var(--down); }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
        td.num, th.num, th { white-space: nowrap; }
        th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
        td.num, th.num { text-align: right; }
        .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: #eef1f6; }
        .badge.ok, .badge.succeeded, .badge.filled { background: #e3f6ea; color: #0d7a3c; }
        .badge.down, .badge.failed, .badge.open { background: #fde8e8; color: #b42318; }
        .badge.partial, .badge.running, .badge.unknown, .badge.exchange-empty { background: #fdf3dc; color: #8a5a00; }
        .notice, .error, .empty { padding: 10px 14px; border-radius: 6px; margin-bottom: 16px; }
        .notice { background: #e3f6ea; } .error { background: #fde8e8; } .empty { background: #eef1f6; color: var(--muted); }
        form.inline { display: inline-flex; gap: 6px; align-items: center; margin: 0; }
        input, select, button { font: inherit; padding: 5px 8px; border: 1px solid #c7ccd5; border-radius: 5px; background: #fff; }
        button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
        button.secondary { background: #fff; color: var(--ink); border-color: #c7ccd5; }
        button.danger { background: #fff; color: var(--down); border-color: var(--down); }
        button:disabled, input:disabled, select:disabled { opacity: .45; cursor: not-allowed; }
        .controls { display: flex; gap: 12px; flex-wrap: wrap; align-items: center; margin-bottom: 12px; }
        .chart { width: 100%; height: auto; display: block; }
        .chart .axis line { stroke: var(--line); } .chart .axis text { fill: var(--muted); font-size: 11px; }
        .chart .body.up { fill: var(--up); } .chart .body.down { fill: var(--down); }
        .chart .wick { fill: none; } .chart .wick.up { stroke: var(--up); } .chart .wick.down { stroke: var(--down); }
        .chart .volume { fill: #b8c2d3; }
        .chart .body, .chart .volume, .chart .hist, .chart .wick { shape-rendering: crispEdges; }
        .chart-view { outline: none; } .chart-view:focus-visible { box-shadow: 0 0 0 2px var(--accent); border-radius: 4px; }
        .chart-view { position: relative; } .chart-view.interactive { touch-action: pan-y; user-select: none; }
        .chart-view.interactive svg { cursor: grab; } .chart-view.moving { cursor: grabbing; }
        .chart-view canvas.chart-canvas { position: absolute; display: none; pointer-events: none; }
        .chart-view.moving canvas.chart-canvas { display: block; } .chart-view.moving svg { visibility: hidden; }
        .ranges { display: flex; gap: 4px; align-items: center; margin-bottom: 12px; color: var(--muted); }
        .ranges a { padding: 3px 10px; border: 1px solid var(--line); border-radius: 5px; background: #fff; text-decoration: none; }
        .chart-nav a[hidden] { display: none; }
        .chart .band { stroke: var(--accent); stroke-width: 1; stroke-opacity: .7; } .chart .band.middle { stroke-dasharray: 4 3; }
        .chart .line { fill: none; stroke-width: 1.5; } .chart .line.rsi, .chart .line.macd { stroke: var(--accent); }
        .chart .line.signal { stroke: var(--warn); } .chart .guide { stroke: #c7ccd5; stroke-dasharray: 3 3; }
        .chart .hist.up { fill: #9bd9b3; } .chart .hist.down { fill: #f2a9ad; }
        .chart .depth.bids { fill: rgba(18,161,80,.18); stroke: var(--up); } .chart .depth.asks { fill: rgba(217,54,62,.18); stroke: var(--down); }
        .chart .crosshair { stroke: #667085; stroke-dasharray: 2 2; pointer-events: none; }
        .readout { font-variant-numeric: tabular-nums; color: var(--muted); min-height: 20px; margin: 4px 0 8px; }
        .pager { display: flex; gap: 12px; align-items: center; margin-top: 12px; }
        a { color: var(--accent); }
        code { background: #eef1f6; padding: 1px 5px; border-radius: 4px; }
        """

    /// The page script: the refreshing parts, the Analytics chart, and the mark that it all ran.
    static let javascript =
        commonJavaScript + chartJavaScript + """
            // Tells the end-to-end test that the script ran to its end without an error.
            document.documentElement.setAttribute("data-script", "ready");
            """

    static let commonJavaScript = """
        "use strict";
        // Refreshes the parts marked data-refresh every N seconds without reloading the page.
        document.querySelectorAll("[data-refresh]").forEach(function (element) {
          var seconds = parseInt(element.getAttribute("data-refresh"), 10) || 15;
          var url = element.getAttribute("data-source");
          setInterval(function () {
            fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
              .then(function (response) { if (!response.ok) throw new Error("HTTP " + response.status); return response.text(); })
              .then(function (html) { element.innerHTML = html; element.removeAttribute("data-stale"); })
              .catch(function () { element.setAttribute("data-stale", "true"); });
          }, seconds * 1000);
        });
        // Prices marked data-live-price follow the streams (Server-Sent Events of every tracked symbol) between the
        // refreshes; the elements are looked up per event, as a refresh replaces them. The stream opens a few seconds
        // after the page loads, so tools that wait for a quiet network (headless renderers, crawlers) see it loaded.
        if (window.EventSource && document.querySelector("[data-live-price]")) setTimeout(function () {
          var prices = new EventSource("/api/stream/candles");
          prices.addEventListener("candle", function (message) {
            var update;
            try { update = JSON.parse(message.data); } catch (error) { return; }
            var text = String(update.candle.close).replace(/(\\.[0-9]{2}[0-9]*?)0+$/, "$1");
            document.querySelectorAll("[data-live-price]").forEach(function (element) {
              if (element.getAttribute("data-live-price") === update.symbol && element.textContent !== text) {
                element.textContent = text;
                element.setAttribute("data-live", "true");
              }
            });
          });
          window.addEventListener("pagehide", function () { prices.close(); });
        }, 4000);

        """
}
