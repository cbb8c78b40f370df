// What every page shares: API calls whose failures read as sentences, the error banner,
// element building without HTML strings, the anonymous device id and the sign-in box.
"use strict";

const RO = (() => {
  const hostsMeta = document.querySelector('meta[name="robotoff-image-hosts"]');
  let imageHosts = {};
  try {
    imageHosts = JSON.parse((hostsMeta && hostsMeta.content) || "{}");
  } catch (e) {
    imageHosts = {};
  }
  const query = new URLSearchParams(location.search);
  const serverType = query.get("server_type") || "off";

  /** An API call that failed, with the message to show. */
  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  /** Calls the API; resolves to the JSON body, rejects with an ApiError. */
  async function api(path, options = {}) {
    let response;
    try {
      response = await fetch(path, Object.assign({ headers: { Accept: "application/json" } }, options));
    } catch (e) {
      throw new ApiError("The service could not be reached. Check the connection and try again.", 0);
    }
    const text = await response.text();
    let body = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = null;
      }
    }
    if (!response.ok) {
      const title = (body && body.title) || `HTTP ${response.status}`;
      const description = body && body.description ? `: ${body.description}` : "";
      throw new ApiError(`The request failed (${title}${description})`, response.status);
    }
    return body;
  }

  /** A form body from an object, empty values left out. */
  function form(fields) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined && v !== null && v !== "") body.set(k, String(v));
    }
    return body;
  }

  function showError(message) {
    const box = document.getElementById("error");
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    const box = document.getElementById("error");
    box.textContent = "";
    box.hidden = true;
  }

  function status(message) {
    const line = document.getElementById("status");
    if (line) line.textContent = message;
  }

  /** An element with attributes (`text` sets its text) and children. */
  function el(tag, attrs = {}, children = []) {
    const node = tag === "svg" || tag === "rect" || tag === "title"
      ? document.createElementNS("http://www.w3.org/2000/svg", tag)
      : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k === "className") node.setAttribute("class", v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return node;
  }

  /** The anonymous id of this browser, kept in localStorage. */
  function deviceId() {
    const key = "robotoff.device_id";
    let id = null;
    try {
      id = localStorage.getItem(key);
    } catch (e) {
      id = null;
    }
    if (!id) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      try {
        localStorage.setItem(key, id);
      } catch (e) {
        // Private windows may refuse storage: the id then lasts as long as the page.
      }
    }
    return id;
  }

  /** URL of an image path of the flavor's image server (`/123/456/789/0123/1.jpg`). */
  function productImageUrl(path) {
    const host = imageHosts[serverType] || imageHosts.off || "";
    return `${host}/images/products${path}`;
  }

  const session = { userId: null };

  /**
   * The sign-in box of the header: who is signed in, a form that hands the user name and
   * password to the API (which keeps only Product Opener's session, as an HttpOnly
   * cookie), and signing out. `onChange` runs after every change.
   */
  async function account(onChange) {
    const box = document.getElementById("account");
    const signin = document.getElementById("signin");
    const render = () => {
      box.replaceChildren();
      if (session.userId) {
        const out = el("button", { type: "button", id: "signout", text: "Sign out" });
        out.addEventListener("click", async () => {
          clearError();
          try {
            await api("/api/v1/session", { method: "DELETE" });
            session.userId = null;
            render();
            onChange();
          } catch (e) {
            showError(e.message);
          }
        });
        box.append(el("span", { id: "account-user", text: `Signed in as ${session.userId}` }), out);
      } else {
        const open = el("button", { type: "button", id: "signin-open", text: "Sign in" });
        open.addEventListener("click", () => {
          signin.hidden = false;
          signin.elements.user_id.focus();
        });
        box.append(el("span", { id: "account-user", text: "Anonymous" }), open);
      }
    };
    signin.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearError();
      const fields = form({
        user_id: signin.elements.user_id.value,
        password: signin.elements.password.value,
        server_type: serverType,
      });
      signin.elements.password.value = "";
      try {
        const who = await api("/api/v1/session", { method: "POST", body: fields });
        session.userId = who.user_id;
        signin.hidden = true;
        render();
        onChange();
      } catch (e) {
        showError(e.status === 401 ? "Product Opener did not accept this user name and password." : e.message);
      }
    });
    document.getElementById("signin-cancel").addEventListener("click", () => {
      signin.hidden = true;
    });
    try {
      const who = await api(`/api/v1/session?server_type=${encodeURIComponent(serverType)}`);
      session.userId = who.user_id;
    } catch (e) {
      showError(e.message);
    }
    render();
  }

  /** Whether a key press belongs to a form field rather than to the page. */
  function typing(event) {
    const t = event.target;
    return event.ctrlKey || event.metaKey || event.altKey ||
      (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable));
  }

  return { api, form, showError, clearError, status, el, deviceId, productImageUrl, account, session, serverType, typing, ApiError };
})();
