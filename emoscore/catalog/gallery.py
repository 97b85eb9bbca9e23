"""A static, self-contained HTML gallery of catalog rows: thumbnail, VAD chart, top categories, quadrant, an audio
player and a MIDI link per image, with filter and sort controls in plain JavaScript (no CDN, no server).

It opens at library scale: the page builds only the cards of one page (PAGE_SIZE) at a time, images load lazily,
and filters, search and sort run over every row, so a 10,000-photo catalog renders its first page in well under
two seconds (tested in Chromium).

Media are copied (hard-linked when possible) into the gallery folder and linked by relative paths, so the folder
can be moved or served by `python -m http.server`. Every string from the catalog is HTML-escaped on the server
side and set with textContent on the client side: a photo named `<img onerror=…>.jpg` shows as text.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
from PIL import Image

from emoscore.catalog.location import is_remote
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import GALLERY_MARKER
from emoscore.errors import InvalidImage
from emoscore.images import decode_image
from emoscore.scoring.object_library import read_object

log = logging.getLogger(__name__)
THUMBNAIL_SIDE = 320
THUMBNAIL_MAX_ASPECT = 4.0  # a panorama's middle is shown, so its thumbnail is not a sliver (20000×100 → 320×80)
PAGE_SIZE = 48


def _fetched(catalog: Catalog, relative: str, target: Path) -> bool:
    """Copy a row's media file into the gallery once (hard-linked from a local catalog); False when it is missing."""
    return target.exists() or catalog.fetch_media(relative, target)


def crop_to_aspect(image: Image.Image, max_aspect: float) -> Image.Image:
    """The image's centre, cut so its long side is at most `max_aspect` times its short side."""
    width, height = image.size
    if width > max_aspect * height:
        keep = round(max_aspect * height)
        return image.crop(((width - keep) // 2, 0, (width - keep) // 2 + keep, height))
    if height > max_aspect * width:
        keep = round(max_aspect * width)
        return image.crop((0, (height - keep) // 2, width, (height - keep) // 2 + keep))
    return image


def thumbnail(image_path: Path | str, image_id: str, out: Path, storage: Mapping[str, str] | None = None) -> str | None:
    """A JPEG thumbnail cached by content hash (made once per image id); None when the image can't be decoded.
    A photo of an s3:// library is read through `storage` over the AWS environment."""
    relative = f"thumbs/{image_id}.jpg"
    target = out / relative
    if target.exists():
        return relative
    try:
        data = read_object(str(image_path), storage)
        image = decode_image(image_path, draft=(THUMBNAIL_SIDE, THUMBNAIL_SIDE), data=data)
    except InvalidImage as error:
        log.debug("no thumbnail: %s", error)
        return None
    image = crop_to_aspect(image, THUMBNAIL_MAX_ASPECT)
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    image.save(temporary, "JPEG", quality=85)
    temporary.replace(target)
    return relative


def _photo(path: str) -> Path | str:
    """A row's photo: a path on disk, or an s3:// URI kept as text."""
    return path if is_remote(path) else Path(path)


def gallery_items(rows: pa.Table, catalog: Catalog, out: Path) -> list[dict]:
    """Per row, what the page shows, with media placed under `out`; in (path, image id) order, so the same rows make
    the same page whatever order the catalog's part files were read in."""
    items = []
    for row in sorted(rows.to_pylist(), key=lambda row: (row["path"], row["image_id"])):
        item = {
            "id": row["image_id"],
            "name": Path(row["path"]).name,
            "path": row["path"],
            "status": row["status"],
            "error": row.get("error") or "",
            "quadrant": row.get("quadrant") or "",
            "confidence": row.get("quadrant_confidence"),
            "valence": row.get("valence"),
            "arousal": row.get("arousal"),
            "dominance": row.get("dominance"),
            "top": [[c["name"], round(float(c["score"]), 3)] for c in row.get("top_categories") or []],
            "named": list(row.get("categories_above_threshold") or []),
            "thumb": thumbnail(_photo(row["path"]), row["image_id"], out, catalog.storage)
            if row["status"] == "ok"
            else None,
        }
        for key, column in (("chart", "chart_path"), ("audio", "audio_path"), ("midi", "midi_path")):
            relative = row.get(column)
            item[key] = (
                f"media/{relative}" if relative and _fetched(catalog, relative, out / "media" / relative) else None
            )
        items.append(item)
    return items


def _json_for_script(data: object) -> str:
    """JSON safe inside a <script> element (no `</script>` or `<!--` can close or confuse it)."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_gallery(rows: pa.Table, catalog: Catalog, out: Path, *, title: str = "emoscore gallery") -> Path:
    """Write `out/index.html` (+ thumbs/ and media/) for the rows; returns the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / GALLERY_MARKER).touch()  # a gallery inside a library is not scored as photos
    items = gallery_items(rows, catalog, out)
    values = {
        "title": html.escape(title),
        "data": _json_for_script(items),
        "count": str(len(items)),
        "page_size": str(PAGE_SIZE),
    }
    page = re.sub(r"\{\{(\w+)\}\}", lambda match: values[match.group(1)], TEMPLATE)  # one pass: no value is re-read
    temporary = out / ".index.html.tmp"
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(out / "index.html")
    return out / "index.html"


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<link rel="icon" href="data:,">
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f6f5f2; color: #222; }
  header { padding: 12px 20px; background: #2b2d42; color: #fff; display: flex; gap: 16px; align-items: center;
           flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header label { font-size: 13px; }
  select, input { font-size: 13px; margin-left: 4px; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; padding: 16px; }
  .card { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px #0002; padding: 10px; }
  .card img.thumb { width: 100%; height: 200px; object-fit: cover; border-radius: 4px; background: #ddd; }
  .card img.chart { width: 100%; }
  .name { font-weight: 600; word-break: break-all; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; }
  .Q1 { background: #e9a23b; } .Q2 { background: #c0392b; } .Q3 { background: #34618e; } .Q4 { background: #3a9d6e; }
  .error { background: #777; }
  .cats { font-size: 12px; color: #555; }
  .named { font-size: 12px; font-weight: 600; color: #234; margin-top: 2px; }
  .err { color: #a33; font-size: 13px; word-break: break-all; }
  audio { width: 100%; margin-top: 6px; }
  #count { font-size: 13px; opacity: .8; }
  nav.pager { display: flex; gap: 10px; align-items: center; justify-content: center; padding: 0 16px 16px; }
  nav.pager button { font-size: 13px; padding: 3px 10px; }
</style>
</head>
<body>
<header>
  <h1>{{title}}</h1>
  <label>Quadrant <select id="quadrant">
    <option value="">all</option><option>Q1</option><option>Q2</option><option>Q3</option><option>Q4</option>
    <option value="error">errors</option></select></label>
  <label>Category <select id="category"><option value="">any</option></select></label>
  <label>min <input id="min" type="number" min="0" max="1" step="0.05" value="0" style="width:4em"></label>
  <label>Named <select id="named"><option value="">any</option></select></label>
  <label>Search <input id="search" type="search" placeholder="file name"></label>
  <label>Sort <select id="sort">
    <option value="name">name</option><option value="valence">valence</option>
    <option value="arousal">arousal</option><option value="dominance">dominance</option>
    <option value="confidence">confidence</option></select></label>
  <span id="count"></span>
</header>
<main id="grid"></main>
<nav class="pager"><button id="previous">‹ previous</button><span id="pages"></span>
  <button id="next">next ›</button></nav>
<script id="data" type="application/json">{{data}}</script>
<script>
"use strict";
const items = JSON.parse(document.getElementById("data").textContent);
const grid = document.getElementById("grid");
const controls = ["quadrant", "category", "min", "search", "sort", "named"].map((id) => document.getElementById(id));
function fill(id, names) {
  for (const name of [...new Set(names)].sort()) {
    const option = document.createElement("option");
    option.textContent = name;
    document.getElementById(id).appendChild(option);
  }
}
fill("category", items.flatMap((item) => item.top.map((pair) => pair[0])));
fill("named", items.flatMap((item) => item.named));
function element(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}
function score(item, category) {
  const pair = item.top.find((p) => p[0] === category);
  return pair ? pair[1] : 0;
}
function card(item) {
  const box = element("article", {class: "card", "data-quadrant": item.quadrant || "error"});
  if (item.thumb) box.appendChild(element("img", {class: "thumb", src: item.thumb, alt: item.name, loading: "lazy"}));
  box.appendChild(element("div", {class: "name", title: item.path}, item.name));
  box.appendChild(element("span", {class: "badge " + (item.quadrant || "error")},
    item.status === "ok" ? item.quadrant + " (" + (item.confidence ?? 0).toFixed(2) + ")" : "error"));
  if (item.status !== "ok") { box.appendChild(element("div", {class: "err"}, item.error)); return box; }
  box.appendChild(element("div", {class: "cats"},
    "V " + item.valence.toFixed(1) + " · A " + item.arousal.toFixed(1) + " · D " + item.dominance.toFixed(1) +
    " — " + item.top.map((p) => p[0] + " " + p[1].toFixed(2)).join(", ")));
  if (item.named.length) box.appendChild(element("div", {class: "named", title: "above their thresholds"},
    item.named.join(" · ")));
  if (item.chart) box.appendChild(element("img", {class: "chart", src: item.chart, alt: "VAD chart of " + item.name,
    loading: "lazy"}));
  if (item.audio) box.appendChild(element("audio", {controls: "", preload: "metadata", src: item.audio}));
  if (item.midi) box.appendChild(element("a", {href: item.midi, download: ""}, "MIDI"));
  return box;
}
const pageSize = {{page_size}};
let shown = [], page = 0;
function select() {
  const [quadrant, category, minimum, search, sort, named] = controls.map((c) => c.value);
  shown = items.filter((item) =>
    (!quadrant || (quadrant === "error" ? item.status !== "ok" : item.quadrant === quadrant)) &&
    (!category || score(item, category) >= Number(minimum)) &&
    (!named || item.named.includes(named)) &&
    (!search || item.name.toLowerCase().includes(search.toLowerCase())));
  shown.sort((a, b) => sort === "name" ? a.name.localeCompare(b.name) : (b[sort] ?? -1) - (a[sort] ?? -1));
  page = 0;
  render();
}
function render() {
  const pages = Math.max(1, Math.ceil(shown.length / pageSize));
  page = Math.min(Math.max(page, 0), pages - 1);
  grid.replaceChildren(...shown.slice(page * pageSize, (page + 1) * pageSize).map(card));
  document.getElementById("count").textContent = shown.length + " of {{count}} images";
  document.getElementById("pages").textContent = "page " + (page + 1) + " of " + pages;
  document.getElementById("previous").disabled = page === 0;
  document.getElementById("next").disabled = page === pages - 1;
}
document.getElementById("previous").addEventListener("click", () => { page -= 1; render(); scrollTo(0, 0); });
document.getElementById("next").addEventListener("click", () => { page += 1; render(); scrollTo(0, 0); });
controls.forEach((control) => control.addEventListener("input", select));
select();
window.firstRenderMs = performance.now();
</script>
</body>
</html>
"""
