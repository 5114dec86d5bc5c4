/* Draws the map of a search (or of a listing's coverage) from the JSON in #map-data.
   No inline script: the page stays within its Content-Security-Policy. Without tiles, or when
   they cannot load, the state outlines served by the app give the map its context, and from
   city zoom on the county outlines and place names of the part in view. Markers close
   together are clustered (Leaflet.markercluster). The words it writes come from data-
   attributes the page renders in the reader's language. */
(function () {
  "use strict";

  function setUpLocationButton() {
    var button = document.getElementById("use-location");
    var input = document.getElementById("near");
    if (!button || !input) { return; }
    if (!("geolocation" in navigator)) { button.hidden = true; return; }
    button.addEventListener("click", function () {
      button.disabled = true;
      button.textContent = button.dataset.locating || "Locating…";
      navigator.geolocation.getCurrentPosition(function (position) {
        input.value = position.coords.latitude.toFixed(5) + "," + position.coords.longitude.toFixed(5);
        input.form.submit();
      }, function () {
        button.disabled = false;
        button.textContent = button.dataset.unavailable || "Location unavailable";
      }, { timeout: 10000, maximumAge: 60000 });
    });
  }

  function drawShape(map, shape, style) {
    if (shape.type === "circle") {
      return L.circle([shape.lat, shape.lon], Object.assign({ radius: shape.radius_m }, style)).addTo(map);
    }
    if (shape.type === "polygon") {
      return L.geoJSON(shape.geojson, { style: style, interactive: false }).addTo(map);
    }
    return null;
  }

  var DETAIL_ZOOM = 8;
  var MAX_DETAIL_DEGREES = 5;

  /* County outlines and place names for the part of the map in view, at city zoom. */
  function drawDetail(map, url, hasTiles) {
    var layer = L.layerGroup().addTo(map);
    var shown = null;
    function refresh() {
      var bounds = map.getBounds().pad(0.1);
      var west = Math.max(bounds.getWest(), -180), east = Math.min(bounds.getEast(), 180);
      var south = Math.max(bounds.getSouth(), -90), north = Math.min(bounds.getNorth(), 90);
      if (map.getZoom() < DETAIL_ZOOM || east - west > MAX_DETAIL_DEGREES ||
          north - south > MAX_DETAIL_DEGREES) {
        layer.clearLayers();
        shown = null;
        return;
      }
      if (shown && shown.contains(map.getBounds())) { return; }
      var box = [west, south, east, north].map(function (value) { return value.toFixed(3); });
      fetch(url + "?bbox=" + box.join(","), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (detail) {
          if (!detail) { return; }
          layer.clearLayers();
          shown = L.latLngBounds([south, west], [north, east]);
          L.geoJSON(detail, {
            interactive: false,
            filter: function (feature) { return feature.properties.kind === "county"; },
            style: { color: "#5f6b7a", weight: 1, dashArray: "3 3", fill: !hasTiles,
                     fillColor: "#f4f6f8", fillOpacity: 0.6 }
          }).addTo(layer).bringToBack();
          detail.features.forEach(function (feature) {
            if (feature.properties.kind !== "place") { return; }
            var label = document.createElement("span");
            label.textContent = feature.properties.name;
            L.marker([feature.geometry.coordinates[1], feature.geometry.coordinates[0]], {
              interactive: false, keyboard: false,
              icon: L.divIcon({ className: "place-label", html: label.outerHTML, iconSize: null })
            }).addTo(layer);
          });
          map.getContainer().setAttribute("data-detail", "shown");
        })
        .catch(function () { /* the state outlines remain */ });
    }
    map.on("moveend", refresh);
    refresh();
  }

  function escapeHtml(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function clusterIconMaker(template) {
    return function (cluster) {
      var count = cluster.getChildCount();
      var sentence = template.replace("{count}", String(count));
      var html = "<span><span aria-hidden=\"true\">" + count + "</span><span class=\"visually-hidden\">" +
        escapeHtml(sentence) + "</span></span>";
      return L.divIcon({ className: "marker-cluster-badge", html: html, iconSize: L.point(36, 36) });
    };
  }

  function drawMap() {
    var element = document.getElementById("map");
    var source = document.getElementById("map-data");
    if (!element || !source || !window.L) { return; }
    var data = JSON.parse(source.textContent);
    var words = element.dataset;
    var map = L.map(element, { scrollWheelZoom: false });
    var markers = L.markerClusterGroup({
      iconCreateFunction: clusterIconMaker(words.cluster || "{count} organizations here: select to zoom in"),
      maxClusterRadius: 40, showCoverageOnHover: false
    });
    var hasPoint = data.lat !== undefined && data.lat !== null;
    map.setView(hasPoint ? [data.lat, data.lon] : [39.5, -98.35], hasPoint ? 10 : 4);
    var layers = [];
    if (data.tiles) {
      L.tileLayer(data.tiles, { attribution: data.attribution || "", maxZoom: 18 }).addTo(map);
    }
    fetch(data.basemap, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (outlines) {
        if (!outlines) { return; }
        var layer = L.geoJSON(outlines, {
          interactive: false,
          style: { color: "#7a869a", weight: 1, fillColor: "#eef2f6", fillOpacity: data.tiles ? 0 : 0.6 }
        }).addTo(map);
        layer.bringToBack();
      })
      .catch(function () { /* the map still shows the markers */ });

    if (hasPoint) {
      layers.push(L.circleMarker([data.lat, data.lon], {
        radius: 7, color: "#c62828", weight: 3, fillOpacity: 0.9
      }).addTo(map).bindTooltip(data.label || words.searchPoint || "Search point"));
    }
    if (data.radius_m) {
      layers.push(L.circle([data.lat, data.lon], {
        radius: data.radius_m, color: "#c62828", weight: 1, fill: false, dashArray: "4 4"
      }).addTo(map));
    }
    (data.results || []).forEach(function (result) {
      (result.shapes || []).forEach(function (shape) {
        drawShape(map, shape, { color: "#00897b", weight: 1, fillOpacity: 0.05, interactive: false });
      });
      if (result.lat === null || result.lat === undefined) { return; }
      var marker = L.marker([result.lat, result.lon], { title: result.name, alt: result.name });
      markers.addLayer(marker);
      var link = document.createElement("a");
      link.href = result.url;
      link.textContent = result.name;
      var popup = document.createElement("div");
      popup.appendChild(link);
      if (result.distance_mi !== null && result.distance_mi !== undefined) {
        popup.appendChild(document.createElement("br"));
        popup.appendChild(document.createTextNode(
          (words.distance || "{miles} mi").replace("{miles}", String(result.distance_mi))));
      }
      marker.bindPopup(popup);
      layers.push(marker);
    });
    (data.shapes || []).forEach(function (shape) {
      var layer = drawShape(map, shape, { color: "#1565c0", weight: 2, fillOpacity: 0.15 });
      if (layer) { layers.push(layer); }
    });
    if (layers.length) {
      map.fitBounds(L.featureGroup(layers).getBounds().pad(0.1), { maxZoom: 12, animate: false });
    }
    map.addLayer(markers);  // after the zoom is settled: clusters are made once, for it
    element.setAttribute("data-markers", String(markers.getLayers().length));
    if (data.basemap_detail) { drawDetail(map, data.basemap_detail, Boolean(data.tiles)); }
    element.setAttribute("data-ready", "true");
  }

  setUpLocationButton();
  drawMap();
}());
