/* The location form's map: a marker at the typed coordinates, dragged to the exact spot (or
   moved with the arrow keys once focused), writes them back into the latitude/longitude
   fields (which work on their own without JavaScript). No inline script, within the page's
   Content-Security-Policy. */
(function () {
  "use strict";

  var DEFAULT_CENTER = [39.5, -98.35];
  var KEY_STEP_PIXELS = 5;
  var KEY_STEP_PIXELS_LARGE = 50;
  var ARROWS = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };

  function readPoint(latInput, lonInput) {
    var lat = parseFloat(latInput.value), lon = parseFloat(lonInput.value);
    if (isNaN(lat) || isNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) { return null; }
    return [lat, lon];
  }

  function setUp() {
    var element = document.getElementById("location-map");
    var source = document.getElementById("location-map-data");
    var latInput = document.getElementById("latitude");
    var lonInput = document.getElementById("longitude");
    if (!element || !source || !latInput || !lonInput || !window.L) { return; }
    var data = JSON.parse(source.textContent);
    var point = readPoint(latInput, lonInput);
    var map = L.map(element, { scrollWheelZoom: false });
    map.setView(point || DEFAULT_CENTER, point ? 14 : 4);
    if (data.tiles) {
      L.tileLayer(data.tiles, { attribution: data.attribution || "", maxZoom: 19 }).addTo(map);
    }
    fetch(data.basemap, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (outlines) {
        if (!outlines) { return; }
        L.geoJSON(outlines, {
          interactive: false,
          style: { color: "#7a869a", weight: 1, fillColor: "#eef2f6", fillOpacity: data.tiles ? 0 : 0.6 }
        }).addTo(map).bringToBack();
      })
      .catch(function () { /* the marker still works */ });

    var marker = L.marker(point || map.getCenter(), {
      draggable: true, autoPan: true, keyboard: true, title: element.dataset.markerLabel
    }).addTo(map);
    var markerElement = marker.getElement();
    markerElement.setAttribute("data-testid", "location-marker");
    markerElement.setAttribute("aria-label", element.dataset.markerLabel);
    markerElement.setAttribute("aria-describedby", "location-marker-help");

    function writeBack(latlng) {
      latInput.value = latlng.lat.toFixed(6);
      lonInput.value = latlng.lng.toFixed(6);
    }
    marker.on("dragend", function () { writeBack(marker.getLatLng()); });
    // Arrow keys move the focused marker a few pixels (Shift: ten times more) at the map's
    // zoom, so the exact spot can be set without a pointer; the map itself does not pan.
    markerElement.addEventListener("keydown", function (event) {
      var direction = ARROWS[event.key];
      if (!direction) { return; }
      event.preventDefault();
      event.stopPropagation();
      var step = event.shiftKey ? KEY_STEP_PIXELS_LARGE : KEY_STEP_PIXELS;
      var at = map.latLngToContainerPoint(marker.getLatLng());
      var moved = map.containerPointToLatLng(
        L.point(at.x + direction[0] * step, at.y + direction[1] * step));
      marker.setLatLng(moved);
      map.panInside(moved);
      writeBack(moved);
    });
    map.on("click", function (event) { marker.setLatLng(event.latlng); writeBack(event.latlng); });
    function follow() {
      var typed = readPoint(latInput, lonInput);
      if (typed) { marker.setLatLng(typed); map.panTo(typed); }
    }
    latInput.addEventListener("change", follow);
    lonInput.addEventListener("change", follow);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
}());
