/* Draws the map of a search (or of a listing's coverage) from the JSON in #map-data.
   No inline script: the page stays within its Content-Security-Policy. Without tiles, or when
   they cannot load, the state outlines served by the app give the map its context. */
(function () {
  "use strict";

  function setUpLocationButton() {
    var button = document.getElementById("use-location");
    var input = document.getElementById("near");
    if (!button || !input) { return; }
    if (!("geolocation" in navigator)) { button.hidden = true; return; }
    button.addEventListener("click", function () {
      button.disabled = true;
      button.textContent = "Locating…";
      navigator.geolocation.getCurrentPosition(function (position) {
        input.value = position.coords.latitude.toFixed(5) + "," + position.coords.longitude.toFixed(5);
        input.form.submit();
      }, function () {
        button.disabled = false;
        button.textContent = "Location unavailable";
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

  function drawMap() {
    var element = document.getElementById("map");
    var source = document.getElementById("map-data");
    if (!element || !source || !window.L) { return; }
    var data = JSON.parse(source.textContent);
    var map = L.map(element, { scrollWheelZoom: false });
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
      }).addTo(map).bindTooltip(data.label || "Search point"));
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
      var marker = L.marker([result.lat, result.lon], { title: result.name, alt: result.name }).addTo(map);
      var link = document.createElement("a");
      link.href = result.url;
      link.textContent = result.name;
      var popup = document.createElement("div");
      popup.appendChild(link);
      if (result.distance_mi !== null && result.distance_mi !== undefined) {
        popup.appendChild(document.createElement("br"));
        popup.appendChild(document.createTextNode(result.distance_mi + " mi"));
      }
      marker.bindPopup(popup);
      layers.push(marker);
    });
    (data.shapes || []).forEach(function (shape) {
      var layer = drawShape(map, shape, { color: "#1565c0", weight: 2, fillOpacity: 0.15 });
      if (layer) { layers.push(layer); }
    });
    if (layers.length) {
      map.fitBounds(L.featureGroup(layers).getBounds().pad(0.1), { maxZoom: 12 });
    }
    element.setAttribute("data-ready", "true");
  }

  setUpLocationButton();
  drawMap();
}());
