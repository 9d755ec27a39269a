// The playground page: draws the view the server builds from the engine's effects, and posts
// what the user does. No inline scripts (the page's Content-Security-Policy forbids them).
"use strict";

const $ = (id) => document.getElementById(id);
let revision = -1;
let diagramRevision = -1;
let currentState = "";
let nodeIds = {};
let showChatAnyway = false;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function post(path, body) {
  const answer = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  if (!answer.ok) {
    $("status").textContent = await answer.text();
    return null;
  }
  const data = await answer.json();
  if (data.revision !== undefined) draw(data);
  return data;
}

function bubble(message) {
  const item = element("li", "message " + message.from);
  if (message.id) item.dataset.id = message.id;
  if (message.media) {
    const icon = { photo: "🖼", video: "🎬", document: "📄", audio: "🎵", voice: "🎤", animation: "🎞", sticker: "🏷" };
    if (message.media.preview) {
      const picture = element("img", "picture");
      picture.src = message.media.preview;
      picture.alt = message.media.kind + ": " + message.media.name;
      item.appendChild(picture);
    } else {
      item.appendChild(element("div", "media", (icon[message.media.kind] || "📎") + " " + message.media.kind + ": " + message.media.name));
    }
    if (message.media.problem) item.appendChild(element("div", "media-problem", message.media.problem));
  }
  if (message.location) {
    item.appendChild(element("div", "media", "📍 location " + message.location.join(", ")));
  }
  const body = element("div", "text");
  body.innerHTML = message.html; // built by the server from Telegram's entities, escaped
  item.appendChild(body);
  if (message.edited) item.appendChild(element("span", "edited", "edited"));
  (message.buttons || []).forEach((row, r) => {
    const line = element("div", "buttons");
    row.forEach((button, c) => {
      const press = element("button", "inline-button", button.text + (button.url ? " ↗" : ""));
      press.type = "button";
      press.addEventListener("click", () => post("/api/press", { message: message.id, row: r, column: c }));
      line.appendChild(press);
    });
    item.appendChild(line);
  });
  return item;
}

function draw(view) {
  if (view.revision === revision) return;
  revision = view.revision;
  $("bot-name").textContent = view.name || "Playground";
  $("bot-version").textContent = view.version ? "version " + view.version : "";
  const errors = view.errors || [];
  $("errors").hidden = errors.length === 0 && !view.startup_problem;
  $("error-list").replaceChildren(
    ...errors.map((e) => {
      const item = element("li");
      item.appendChild(element("code", "where", e.where));
      item.appendChild(document.createTextNode(" " + e.message + " "));
      item.appendChild(element("span", "muted", "[" + e.code + "]"));
      return item;
    }),
    ...(view.startup_problem ? [element("li", "", view.startup_problem)] : []),
  );
  if (errors.length === 0) showChatAnyway = false;
  $("show-chat").hidden = !view.running;
  $("chat").hidden = (errors.length > 0 && !showChatAnyway) || !view.running;
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...view.messages.map(bubble));
  if (atBottom) list.scrollTop = list.scrollHeight;
  $("keyboard").replaceChildren(
    ...view.keyboard.map((row) => {
      const line = element("div", "keys");
      row.forEach((key) => {
        const icon = key.shares === "contact" ? "📞 " : key.shares === "location" ? "📍 " : "";
        const press = element("button", "key", icon + key.text);
        press.type = "button";
        press.addEventListener("click", () => post("/api/send", { text: key.text }));
        line.appendChild(press);
      });
      return line;
    }),
  );
  $("text").placeholder = view.placeholder || "Message";
  const select = $("language");
  if (select.options.length !== view.languages.length) {
    select.replaceChildren(...view.languages.map((l) => element("option", "", l)));
  }
  select.value = view.language;
  currentState = view.state;
  $("state").textContent = view.state + (view.ended ? " (ended)" : "");
  const timer = view.next_timer === null ? "" : " · next timer in " + duration(view.next_timer);
  const stack = view.stack.length ? " · call stack: " + view.stack.join(" → ") : "";
  $("clock").textContent = view.clock ? "clock: " + view.clock.replace("T", " ") + timer + stack : "";
  $("variables").replaceChildren(
    ...Object.entries(view.variables).map(([name, value]) => {
      const row = element("tr");
      row.appendChild(element("th", "", name));
      row.appendChild(element("td", "", JSON.stringify(value)));
      return row;
    }),
  );
  highlight();
  if (view.diagram_revision !== diagramRevision) loadDiagram();
}

function duration(seconds) {
  // "45s", "10m", "2h 5m", "3d 4h": what the Wait field takes
  const s = Math.ceil(seconds);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.ceil(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h" + (Math.ceil((s % 3600) / 60) ? " " + Math.ceil((s % 3600) / 60) + "m" : "");
  return Math.floor(s / 86400) + "d" + (Math.floor((s % 86400) / 3600) ? " " + Math.floor((s % 86400) / 3600) + "h" : "");
}

function nodeOf(group) {
  const found = /flowchart-(s_\d+)-\d+$/.exec(group.id || "");
  return found ? found[1] : null;
}

function highlight() {
  const current = nodeIds[currentState];
  const box = $("diagram");
  document.querySelectorAll("#diagram g.node").forEach((group) => {
    const now = nodeOf(group) === current;
    if (now && !group.classList.contains("current")) {
      // the current state in sight: the diagram's box scrolls, the page stays where it is
      const node = group.getBoundingClientRect();
      const frame = box.getBoundingClientRect();
      box.scrollLeft += node.left - frame.left - (frame.width - node.width) / 2;
      box.scrollTop += node.top - frame.top - (frame.height - node.height) / 2;
    }
    group.classList.toggle("current", now);
  });
}

async function loadDiagram() {
  const answer = await fetch("/api/diagram");
  const data = await answer.json();
  diagramRevision = data.revision;
  nodeIds = data.ids;
  const box = $("diagram");
  if (!data.mermaid || !window.mermaid) {
    box.textContent = window.mermaid ? "" : "(the diagram library did not load)";
    return;
  }
  const { svg } = await window.mermaid.render("graph-" + data.revision, data.mermaid);
  box.innerHTML = svg;
  const drawn = box.querySelector("svg");
  const natural = drawn ? parseFloat(drawn.style.maxWidth) : NaN;
  if (natural) drawn.style.width = natural + "px"; // its own size: the box scrolls, labels stay legible
  const states = Object.fromEntries(Object.entries(nodeIds).map(([state, id]) => [id, state]));
  box.querySelectorAll("g.node").forEach((group) => {
    const state = states[nodeOf(group)];
    if (!state) return;
    group.setAttribute("tabindex", "0");
    group.setAttribute("role", "button");
    group.setAttribute("aria-label", "state " + state + ": show its YAML");
    group.classList.add("state");
    group.addEventListener("click", () => showYaml(state));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        showYaml(state);
      }
    });
  });
  highlight();
}

async function showYaml(state) {
  const answer = await fetch("/api/state?name=" + encodeURIComponent(state));
  if (!answer.ok) return;
  const source = await answer.json();
  $("yaml").hidden = false;
  $("yaml-title").textContent = source.file + ":" + source.line + " (state " + state + ")";
  $("yaml-lines").textContent = source.lines.map((line, i) => String(source.line + i).padStart(4) + "  " + line).join("\n");
  $("yaml").scrollIntoView({ block: "nearest" });
}

async function refresh() {
  try {
    const answer = await fetch("/api/view");
    draw(await answer.json());
  } catch (error) {
    $("status").textContent = "the playground does not answer (stopped?)";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (window.mermaid) window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", flowchart: { htmlLabels: false } });
  $("send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    $("text").value = "";
    if (text.trim()) post("/api/send", { text });
  });
  document.querySelectorAll("[data-share]").forEach((button) =>
    button.addEventListener("click", () => post("/api/share", { kind: button.dataset.share })),
  );
  $("wait-form").addEventListener("submit", (event) => {
    event.preventDefault();
    post("/api/wait", { duration: $("wait").value.trim() });
  });
  $("restart").addEventListener("click", () => post("/api/restart"));
  $("language").addEventListener("change", () => post("/api/language", { language: $("language").value }));
  $("show-chat").addEventListener("click", () => {
    showChatAnyway = true;
    revision = -1;
    refresh();
  });
  $("save-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("test-name").value.trim() || "playground " + new Date().toISOString().slice(0, 19);
    const saved = await post("/api/save-test", { name });
    if (saved) $("status").textContent = "saved the test case “" + saved.name + "” in " + saved.file;
    refresh();
  });
  $("messages").addEventListener("click", (event) => {
    const spoiler = event.target.closest(".spoiler");
    if (spoiler) spoiler.classList.add("shown");
  });
  $("messages").addEventListener("keydown", (event) => {
    const spoiler = event.target.closest(".spoiler");
    if (spoiler && event.key === "Enter") spoiler.classList.add("shown");
  });
  refresh();
  setInterval(refresh, 700);
});
