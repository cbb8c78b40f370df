// The questions page: one question at a time, answered with the buttons or the keys
// y, n and s; filters kept in the URL; questions fetched ten at a time.
"use strict";

(() => {
  const FILTERS = ["insight_types", "countries", "brands", "value_tag"];
  const BATCH = 10;
  const ANSWERS = { y: "1", n: "0", s: "-1" };
  const lang = ((navigator.languages && navigator.languages[0]) || navigator.language || "en")
    .split("-")[0].toLowerCase();
  const filters = document.getElementById("filters");
  const $ = (id) => document.getElementById(id);
  const state = { queue: [], count: 0, answeredSinceFetch: 0, current: null, busy: false, done: new Set() };

  function readUrl() {
    const q = new URLSearchParams(location.search);
    for (const name of FILTERS) filters.elements[name].value = q.get(name) || "";
    if (FILTERS.some((name) => q.get(name))) $("filter-box").open = true;
  }

  function writeUrl() {
    const q = new URLSearchParams(location.search);
    for (const name of FILTERS) {
      const v = filters.elements[name].value.trim();
      if (v) q.set(name, v);
      else q.delete(name);
    }
    const search = q.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
  }

  function listingUrl() {
    const q = new URLSearchParams({ count: BATCH, lang, server_type: RO.serverType, device_id: RO.deviceId() });
    for (const name of FILTERS) {
      const v = filters.elements[name].value.trim();
      if (v) q.set(name, v);
    }
    return `/api/v1/questions?${q}`;
  }

  function showRemaining() {
    const left = Math.max(state.count - state.answeredSinceFetch, 0);
    const more = state.count >= 100 ? "+" : "";
    $("remaining").textContent = left === 1 ? "1 question left" : `${left}${more} questions left`;
  }

  async function fetchBatch() {
    $("loading").hidden = false;
    try {
      const answer = await RO.api(listingUrl());
      state.count = answer.count || 0;
      state.answeredSinceFetch = 0;
      state.queue = (answer.questions || []).filter((q) => !state.done.has(q.insight_id));
      return true;
    } catch (e) {
      RO.showError(e.message);
      state.queue = [];
      return false;
    } finally {
      $("loading").hidden = true;
    }
  }

  function render(question) {
    state.current = question;
    $("question").hidden = !question;
    $("empty").hidden = !!question;
    showRemaining();
    if (!question) return;
    const image = $("question-image");
    image.replaceChildren();
    if (question.source_image_url) {
      const img = RO.el("img", { src: question.source_image_url, alt: `Image of product ${question.barcode}` });
      img.addEventListener("error", () => image.replaceChildren(RO.el("span", { className: "muted", text: "The image could not be loaded." })));
      image.append(img);
    } else {
      image.append(RO.el("span", { className: "muted", text: "No image for this question." }));
    }
    $("question-text").textContent = question.question;
    $("question-value").textContent = question.value || question.value_tag || "";
    const ref = $("ref-image");
    if (question.ref_image_url) {
      ref.src = question.ref_image_url;
      ref.hidden = false;
    } else {
      ref.removeAttribute("src");
      ref.hidden = true;
    }
    $("question-product").textContent = `Product ${question.barcode} · ${question.insight_type}`;
    $("question").dataset.insightId = question.insight_id;
    // When the first question showed, for the browser's performance timeline.
    if (performance.getEntriesByName("robotoff:first-question").length === 0) {
      performance.mark("robotoff:first-question");
    }
  }

  async function next() {
    if (state.queue.length === 0) {
      const ok = await fetchBatch();
      if (!ok) {
        $("question").hidden = true;
        return;
      }
    }
    render(state.queue.shift() || null);
  }

  function setBusy(busy) {
    state.busy = busy;
    for (const b of document.querySelectorAll(".answers button")) b.disabled = busy;
  }

  async function answer(annotation) {
    const question = state.current;
    if (!question || state.busy) return;
    RO.clearError();
    setBusy(true);
    try {
      const result = await RO.api("/api/v1/insights/annotate", {
        method: "POST",
        body: RO.form({ insight_id: question.insight_id, annotation, device_id: RO.deviceId() }),
      });
      state.done.add(question.insight_id);
      state.answeredSinceFetch += 1;
      RO.status(result && result.description ? `Answer sent: ${result.description}` : "Answer sent.");
      await next();
    } catch (e) {
      RO.showError(e.message);
    } finally {
      setBusy(false);
    }
  }

  async function restart() {
    state.queue = [];
    state.current = null;
    RO.clearError();
    await next();
  }

  for (const button of document.querySelectorAll(".answers button")) {
    button.addEventListener("click", () => answer(button.dataset.annotation));
  }
  document.addEventListener("keydown", (event) => {
    if (RO.typing(event)) return;
    const annotation = ANSWERS[event.key.toLowerCase()];
    if (annotation !== undefined && state.current) {
      event.preventDefault();
      answer(annotation);
    }
  });
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    writeUrl();
    restart();
  });
  $("filters-clear").addEventListener("click", () => {
    for (const name of FILTERS) filters.elements[name].value = "";
    writeUrl();
    restart();
  });

  readUrl();
  // Signing in or out changes whose votes hide questions: start again.
  RO.account(() => restart());
  next();
})();
