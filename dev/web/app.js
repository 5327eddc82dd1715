// The demo chat page: a thin UI over the client SDK (served from client/src by the dev stack).
import { ChatClient } from "/client/src/index.ts";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const config = await (await fetch("/config.json")).json();

// Each new tab takes the next gateway, so two tabs land on different gateways.
const pick = Number(
  params.get("gateway") ?? Number(localStorage.getItem("cc-next-gateway") ?? 0) % config.gateways.length,
);
localStorage.setItem("cc-next-gateway", String(pick + 1));
for (const [i, url] of config.gateways.entries()) {
  const opt = new Option(`gateway-${i} (${url})`, String(i));
  $("gateway").append(opt);
}
$("gateway").value = String(pick);
if (params.get("name")) $("name").value = params.get("name");

const rooms = new Map(); // room -> array of message frames, in seq order
const topics = new Map(); // room -> topic a Join hook attached
const states = []; // every connection state the client went through
let active = null;
let client = null;
let me = null;

async function token(name) {
  const res = await fetch("/dev/token", { method: "POST", body: JSON.stringify({ name }) });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? res.statusText);
  return body.token;
}

function setState(state, detail) {
  const el = $("state");
  el.dataset.state = state;
  el.textContent = detail ? `${state} (${detail})` : state;
}

function renderRooms() {
  const ul = $("rooms");
  ul.replaceChildren();
  for (const room of rooms.keys()) {
    const li = document.createElement("li");
    li.textContent = `# ${room}`;
    li.dataset.room = room;
    if (room === active) li.classList.add("active");
    li.onclick = () => show(room);
    ul.append(li);
  }
}

function messageItem(m) {
  const li = document.createElement("li");
  li.dataset.seq = String(m.seq);
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = m.from;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = typeof m.body?.text === "string" ? m.body.text : JSON.stringify(m.body);
  if (m.edited === "edit") text.textContent += " (edited)";
  const seq = document.createElement("span");
  seq.className = "seq";
  seq.textContent = `#${m.seq}`;
  li.append(from, text, seq);
  return li;
}

function notice(text) {
  const el = $("notice");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => {
    el.hidden = true;
  }, 5000);
}

function show(room) {
  active = room;
  const topic = topics.get(room);
  $("room-title").textContent = topic ? `# ${room} — ${topic}` : `# ${room}`;
  const ol = $("messages");
  ol.replaceChildren(...(rooms.get(room) ?? []).map(messageItem));
  ol.scrollTop = ol.scrollHeight;
  renderRooms();
}

function join(room) {
  if (!rooms.has(room)) {
    rooms.set(room, []);
    client.join(room);
  }
  show(room);
}

$("login-form").onsubmit = async (ev) => {
  ev.preventDefault();
  me = $("name").value.trim();
  const url = config.gateways[Number($("gateway").value)];
  $("where").textContent = `${me} via gateway-${$("gateway").value}`;
  client = new ChatClient({ url, token: () => token(me) });
  client.on("state", (s) => {
    states.push(s.state);
    setState(s.state, s.retryInMs !== undefined ? `retry in ${s.retryInMs} ms` : undefined);
  });
  client.on("message", (m) => {
    const list = rooms.get(m.room);
    if (!list) return;
    if (m.kind !== undefined) {
      // An edit or a delete: an event of the room that changes the message it targets.
      const target = list.find((x) => x.seq === m.target);
      if (target) {
        target.body = m.kind === "delete" ? { text: "(deleted)" } : m.body;
        target.edited = m.kind;
      }
      if (m.room === active) show(m.room);
      return;
    }
    list.push(m);
    if (m.room === active) {
      const ol = $("messages");
      ol.append(messageItem(m));
      ol.scrollTop = ol.scrollHeight;
    }
  });
  // Refusals (a hook's rule, a missing permission) show under the messages.
  client.on("error", (e) => {
    console.warn("chatcluster error", e);
    if (e.id !== undefined) notice(`${e.code}: ${e.message}`);
  });
  client.on("joined", (j) => {
    if (typeof j.data?.topic === "string") topics.set(j.room, j.data.topic);
    if (j.room === active) show(j.room);
  });
  client.connect();
  $("login").hidden = true;
  $("chat").hidden = false;
  join(params.get("room") ?? "lobby");
};

$("join-form").onsubmit = (ev) => {
  ev.preventDefault();
  const room = $("room").value.trim();
  if (room) join(room);
  $("room").value = "";
};

$("send-form").onsubmit = (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text || !active) return;
  $("text").value = "";
  client.send(active, { text }).catch((err) => notice(err.message));
};

// For tests and curious users: the page's client and what it has shown.
window.chatcluster = {
  get client() {
    return client;
  },
  rooms,
  states,
};
setState("idle", "pick a name");
