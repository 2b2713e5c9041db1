// The stations' map: Leaflet (vendored, see README.md) over
// OpenStreetMap tiles. Without Leaflet the page goes on without a map;
// without a network the tiles fail quietly and the markers, which are
// drawn by the page and need no tile, still show where each station is.

import { el, paint } from "./util.js";

const tiles = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png";

/**
 * createMap draws a map into box, or returns null when Leaflet did not
 * load. onTilesFailed is called once when a tile fails to load.
 */
export function createMap(box, { onTilesFailed, label }) {
  const L = window.L;
  if (!L || !L.map) return null;
  const map = L.map(box, { zoomControl: true, attributionControl: true, keyboard: true, scrollWheelZoom: false });
  map.setView([30.66, 104.07], 11);
  let failed = false;
  L.tileLayer(tiles, {
    maxZoom: 19,
    attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
  }).on("tileerror", () => {
    if (!failed) {
      failed = true;
      onTilesFailed?.();
    }
  }).addTo(map);
  const markers = new Map(); // id -> L.Marker
  let fitted = false;
  let bounds = [];
  let moved = false; // the user moved or zoomed the map: keep their view
  map.on("dragstart", () => { moved = true; });
  box.addEventListener("wheel", () => { moved = true; }, { passive: true });
  const fit = () => {
    if (!bounds.length) return;
    if (bounds.length === 1) map.setView(bounds[0], 13, { animate: false });
    else map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14, animate: false });
  };
  // Follow the box's size (a rotated phone, a narrower window), and keep
  // every station in view until the user moves the map.
  const ro = "ResizeObserver" in window ? new ResizeObserver(() => {
    map.invalidateSize();
    if (!moved) fit();
  }) : null;
  ro?.observe(box);

  return {
    /**
     * setStations places one marker per station with coordinates: a disc
     * in the level's colour showing the AQI number, so that the colour is
     * never the only cue, with a tooltip naming the station and level.
     * describe(entry) gives {name, level, href}.
     */
    setStations(entries, describe) {
      const seen = new Set();
      const pts = [];
      for (const e of entries) {
        const c = e.station.coordinates;
        if (!c) continue;
        const id = e.station.id;
        seen.add(id);
        pts.push([c.lat, c.lon]);
        const d = describe(e);
        const icon = L.divIcon({
          className: "aqi-marker-wrap",
          html: markerFace(e, d),
          iconSize: [36, 36],
          iconAnchor: [18, 18],
          popupAnchor: [0, -18],
        });
        let m = markers.get(id);
        if (!m) {
          m = L.marker([c.lat, c.lon], { icon, keyboard: true, title: d.title, alt: d.title, riseOnHover: true }).addTo(map);
          markers.set(id, m);
        } else {
          m.setLatLng([c.lat, c.lon]);
          m.setIcon(icon);
        }
        // Where markers overlap, the worse air is on top, and any AQI
        // above a station without one.
        m.setZIndexOffset(e.aqi === null ? -1000 : e.aqi);
        const el0 = m.getElement();
        if (el0) {
          el0.setAttribute("title", d.title);
          el0.setAttribute("aria-label", d.title);
          el0.dataset.station = id;
        }
        m.unbindPopup();
        m.bindPopup(() => popup(d));
      }
      for (const [id, m] of markers) {
        if (!seen.has(id)) {
          m.remove();
          markers.delete(id);
        }
      }
      bounds = pts;
      if (!fitted && pts.length) {
        fitted = true;
        fit();
      }
    },
    /** focus centres the map on a station and opens its popup. */
    focus(id) {
      const m = markers.get(id);
      if (m) {
        map.panTo(m.getLatLng());
        m.openPopup();
      }
    },
    remove() {
      ro?.disconnect();
      map.remove();
    },
    label,
  };
}

function markerFace(e, d) {
  const face = el("span", { class: "aqi-marker", "data-station": e.station.id, "data-level": e.level ?? "" },
    e.aqi === null ? "–" : String(e.aqi));
  return paint(face, e.color);
}

function popup(d) {
  return el("div", { class: "map-popup" },
    el("strong", {}, d.name), el("br"), d.level, el("br"),
    el("a", { href: d.href }, d.details));
}
