// The logo game: a logo and its nearest neighbours from the logo index as a grid of
// crops; select several and annotate them as a brand or a label.
"use strict";

(() => {
  const NEIGHBOURS = 24;
  const $ = (id) => document.getElementById(id);
  const selected = new Set();
  const tiles = new Map();

  function cropUrl(logo) {
    const box = logo.bounding_box;
    const source = logo.image && logo.image.source_image;
    if (!source || !Array.isArray(box) || box.length !== 4) return null;
    const q = new URLSearchParams({
      image_url: RO.productImageUrl(source),
      y_min: box[0], x_min: box[1], y_max: box[2], x_max: box[3],
    });
    return `/api/v1/images/crop?${q}`;
  }

  function updateSelection() {
    const n = selected.size;
    $("selected-count").textContent = n === 1 ? "1 logo selected" : `${n} logos selected`;
    $("annotate-button").disabled = n === 0;
    for (const [id, tile] of tiles) tile.setAttribute("aria-pressed", selected.has(id) ? "true" : "false");
  }

  function tile(logo, distance, reference) {
    const annotated = !!logo.annotation_type;
    const url = cropUrl(logo);
    const picture = url
      ? RO.el("img", { src: url, alt: `Logo ${logo.id}`, loading: "lazy" })
      : RO.el("span", { className: "placeholder", text: "no crop" });
    const caption = annotated
      ? `${logo.annotation_type}: ${logo.annotation_value || "–"}`
      : reference ? "this logo" : `distance ${Number(distance).toFixed(3)}`;
    const button = RO.el("button", {
      type: "button",
      className: `tile${reference ? " reference" : ""}${annotated ? " done" : ""}`,
      "aria-pressed": "false",
      "data-logo-id": logo.id,
      disabled: annotated,
      title: `Logo ${logo.id} of product ${logo.barcode || "?"}`,
    }, [picture, RO.el("span", { text: caption })]);
    if (url) {
      picture.addEventListener("error", () => picture.replaceWith(RO.el("span", { className: "placeholder", text: "crop unavailable" })));
    }
    button.addEventListener("click", () => {
      if (selected.has(logo.id)) selected.delete(logo.id);
      else selected.add(logo.id);
      updateSelection();
    });
    tiles.set(logo.id, button);
    return button;
  }

  async function load(logoId) {
    RO.clearError();
    selected.clear();
    tiles.clear();
    $("loading").hidden = false;
    $("game").hidden = true;
    $("empty").hidden = true;
    try {
      const path = logoId ? `/api/v1/ann/search/${encodeURIComponent(logoId)}` : "/api/v1/ann/search";
      const q = new URLSearchParams({ count: NEIGHBOURS, server_type: RO.serverType });
      const found = await RO.api(`${path}?${q}`);
      if (found.query_logo_id === null || found.query_logo_id === undefined) {
        $("empty").textContent = "The logo index is empty: no logo of this flavor has an embedding yet. " +
          "Logos appear here once product images have gone through the logo detector.";
        $("empty").hidden = false;
        return;
      }
      const ids = [found.query_logo_id, ...found.results.map((r) => r.logo_id)];
      const distances = new Map(found.results.map((r) => [r.logo_id, r.distance]));
      const listed = await RO.api(`/api/v1/images/logos?logo_ids=${ids.join(",")}`);
      const byId = new Map(listed.logos.map((l) => [l.id, l]));
      const grid = $("grid");
      grid.replaceChildren();
      for (const id of ids) {
        const logo = byId.get(id);
        if (logo) grid.append(tile(logo, distances.get(id), id === found.query_logo_id));
      }
      const q2 = new URLSearchParams(location.search);
      q2.set("logo_id", found.query_logo_id);
      history.replaceState(null, "", `?${q2}`);
      $("game").hidden = false;
      updateSelection();
    } catch (e) {
      RO.showError(e.message);
    } finally {
      $("loading").hidden = true;
    }
  }

  $("annotate").addEventListener("submit", async (event) => {
    event.preventDefault();
    RO.clearError();
    const type = event.target.elements.type.value;
    const value = event.target.elements.value.value.trim();
    const ids = [...selected];
    if (ids.length === 0) return;
    $("annotate-button").disabled = true;
    try {
      const result = await RO.api("/api/v1/images/logos/annotate", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          server_type: RO.serverType,
          annotations: ids.map((id) => ({ logo_id: id, type, value })),
        }),
      });
      for (const id of ids) {
        const t = tiles.get(id);
        if (t) {
          t.disabled = true;
          t.classList.add("done");
          t.lastChild.textContent = `${type}: ${value}`;
        }
      }
      selected.clear();
      RO.status(`${result.annotated} logo${result.annotated === 1 ? "" : "s"} annotated as ${type} “${value}”.`);
    } catch (e) {
      RO.showError(e.status === 401 || e.status === 403 ? `Sign in to annotate logos. ${e.message}` : e.message);
    } finally {
      updateSelection();
    }
  });
  $("select-all").addEventListener("click", () => {
    for (const [id, t] of tiles) if (!t.disabled) selected.add(id);
    updateSelection();
  });
  $("select-none").addEventListener("click", () => {
    selected.clear();
    updateSelection();
  });
  $("next-logo").addEventListener("click", () => load(null));

  RO.account(() => {});
  load(new URLSearchParams(location.search).get("logo_id"));
})();
