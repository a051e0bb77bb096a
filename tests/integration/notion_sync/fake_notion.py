#!/usr/bin/env python3
"""A stateful fake of the Notion API (version 2022-06-28) for the
ops-notion-sync tests: HTTPS with the test's CA, python3 standard library only.

It keeps pages, block trees and database rows in memory and enforces what
Notion enforces and the sync must respect: the bearer token, 100 blocks per
children array, 1,000 blocks and 500 KB per request, two levels of nesting
per request, 2,000 UTF-16 units per rich text content, 100 rich text objects
per array, which block types may have children, table widths, link URLs, and
an average rate (token bucket: --rps per second, burst --rps) with 429 and
Retry-After beyond.

Every request is logged to --log as "METHOD PATH STATUS TAG" (TAG: "-",
"rate" for a 429 of the rate limit, "storm" for an injected 429, "fail" for
an injected 500).

Test knobs: POST /_control with a JSON object (no token needed, never used
by the sync):
  {"storm_after_appends": N, "storm_len": K}  K 429s after N more appends
  {"fail_append": N}                           the Nth append from now: 500
  {"unshare_after_get": ID}   the page becomes unshared after its next GET
  {"revoke_after_writes": N}  the token is revoked after N more writes
  {"double_append": true}     the next append is applied twice (as a
                              second writer, or a retried append, would)
  {"revoke": true} / {"restore": true}
  {"archive": ID} / {"unarchive": ID} / {"reshare": true}
  {"rps": N}                  the rate limit from now on
GET /_state: {"pages": {id: [block tree as the sync sends it]}, "rows": [...]}.
"""
import argparse
import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

NESTS = {"paragraph", "bulleted_list_item", "numbered_list_item", "quote",
         "table", "toggle", "to_do", "callout"}
TEXT_TYPES = {"paragraph", "heading_1", "heading_2", "heading_3",
              "bulleted_list_item", "numbered_list_item", "quote", "code",
              "toggle", "to_do", "callout"}
LANGUAGES = {"plain text", "c", "c++", "shell", "bash", "json", "yaml", "sql",
             "python", "javascript", "typescript", "go", "rust", "diff",
             "makefile", "markdown", "html", "xml", "css", "toml", "docker",
             "graphql", "perl"}
ROW_SCHEMA = {"Name": "title", "Source": "rich_text", "SHA-256": "rich_text",
              "Commit": "rich_text", "OpenAPI version": "rich_text",
              "Synced at": "date"}


class Invalid(Exception):
    pass


def canon(i):
    h = i.replace("-", "").lower()
    if len(h) != 32 or any(c not in "0123456789abcdef" for c in h):
        return None
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def units(s):
    return len(s.encode("utf-16-le")) // 2


def check_rich(arr, where):
    if not isinstance(arr, list):
        raise Invalid("%s should be an array" % where)
    if len(arr) > 100:
        raise Invalid("%s.length should be <= 100, instead was %d" % (where, len(arr)))
    for rt in arr:
        text = rt.get("text") or {}
        content = text.get("content")
        if rt.get("type") != "text" or not isinstance(content, str):
            raise Invalid("%s: text.content should be a string" % where)
        if units(content) > 2000:
            raise Invalid("%s.text.content.length should be <= 2000, instead was %d"
                          % (where, units(content)))
        link = text.get("link")
        if link is not None:
            url = link.get("url", "")
            if not (url.startswith("http://") or url.startswith("https://")
                    or url.startswith("mailto:")) or len(url) > 2000:
                raise Invalid("Invalid URL for link.")


class State:
    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.token = cfg["token"]
        self.revoked = False
        self.bot = cfg.get("bot", "Spec Sync")
        self.pages = {}      # id -> {"archived", "shared", "children": [ids]}
        self.blocks = {}     # id -> {"type", "body", "children", "archived", "parent"}
        self.db = canon(cfg["database"])
        self.rows = {}       # id -> {"properties", "archived"}
        self.row_order = []
        for p in cfg["pages"]:
            self.pages[canon(p)] = {"archived": False, "shared": True, "children": []}
        self.rps = float(cfg.get("rps", 3))
        self.bucket = self.rps
        self.last = time.monotonic()
        self.appends = 0
        self.writes = 0
        self.knobs = {}

    # -- rate limit: token bucket, capacity rps, refill rps per second
    def take(self):
        now = time.monotonic()
        self.bucket = min(self.rps, self.bucket + (now - self.last) * self.rps)
        self.last = now
        if self.bucket < 1:
            return False
        self.bucket -= 1
        return True


def err(status, code, message):
    return status, {"object": "error", "status": status, "code": code,
                    "message": message, "request_id": uuid.uuid4().hex}


def not_found(i):
    return err(404, "object_not_found", "Could not find block with ID: %s. Make sure "
               "the relevant pages and databases are shared with your integration." % i)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-notion"

    def log_message(self, *a):
        pass

    def send(self, status, obj, tag="-", headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-notion-request-id", uuid.uuid4().hex)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        with open(self.server.logpath, "a") as f:
            f.write("%s %s %d %s\n" % (self.command, urlsplit(self.path).path, status, tag))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return raw

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def handle_any(self):
        st = self.server.state
        raw = self.body()
        path = urlsplit(self.path).path
        if path == "/_control":
            with st.lock:
                st.knobs.update(json.loads(raw or b"{}"))
                k = st.knobs
                if k.pop("revoke", False):
                    st.revoked = True
                if k.pop("restore", False):
                    st.revoked = False
                for key, val in (("archive", True), ("unarchive", False)):
                    if key in k:
                        st.pages[canon(k.pop(key))]["archived"] = val
                if "rps" in k:
                    st.rps = float(k.pop("rps"))
                    st.bucket = min(st.bucket, st.rps)
                if k.pop("reshare", False):
                    for p in st.pages.values():
                        p["shared"] = True
            return self.send(200, {"ok": True}, "control")
        if path == "/_state":
            with st.lock:
                return self.send(200, self.dump(st), "control")
        with st.lock:
            status, obj, tag, hdrs = self.api(st, raw, path)
        self.send(status, obj, tag, hdrs)

    def dump(self, st):
        def tree(ids):
            out = []
            for i in ids:
                b = st.blocks[i]
                if b["archived"]:
                    continue
                body = dict(b["body"])
                kids = tree(b["children"])
                if kids:
                    body["children"] = kids
                out.append({"type": b["type"], b["type"]: body})
            return out
        rows = []
        for rid in st.row_order:
            r = st.rows[rid]
            if r["archived"]:
                continue
            flat = {}
            for name, prop in r["properties"].items():
                if "date" in prop:
                    flat[name] = (prop["date"] or {}).get("start", "")
                else:
                    key = "title" if "title" in prop else "rich_text"
                    flat[name] = "".join(x["text"]["content"] for x in prop[key])
            rows.append(flat)
        return {"pages": {p: tree(v["children"]) for p, v in st.pages.items()},
                "rows": rows, "writes": st.writes, "appends": st.appends}

    def api(self, st, raw, path):
        k = st.knobs
        auth = self.headers.get("Authorization", "")
        if auth != "Bearer " + st.token or st.revoked:
            return err(401, "unauthorized", "API token is invalid.") + ("-", ())
        if not self.headers.get("Notion-Version"):
            return err(400, "missing_version", "Notion-Version header is missing.") + ("-", ())
        if k.get("storm_len", 0) > 0 and k.get("storm_after_appends", 0) <= 0:
            k["storm_len"] -= 1
            return err(429, "rate_limited", "Storm.") + ("storm", (("Retry-After", "1"),))
        if not st.take():
            return err(429, "rate_limited", "You have been rate limited.") + \
                ("rate", (("Retry-After", "1"),))
        if len(raw) > 500 * 1024:
            return err(413, "payload_too_large", "Request body too large.") + ("-", ())
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return err(400, "invalid_json", "Body is not JSON.") + ("-", ())
        write = self.command in ("PATCH", "DELETE") or (
            self.command == "POST" and not path.endswith("/query"))
        if write and k.get("revoke_after_writes") is not None:
            if k["revoke_after_writes"] <= 0:
                st.revoked = True
                k.pop("revoke_after_writes")
                return err(401, "unauthorized", "API token is invalid.") + ("-", ())
            k["revoke_after_writes"] -= 1
        try:
            status, obj = self.route(st, data, path)
        except Invalid as e:
            status, obj = err(400, "validation_error", str(e))
        tag = "-"
        if status == 500:
            tag = "fail"
        if write and status < 300:
            st.writes += 1
        return status, obj, tag, ()

    def page_visible(self, st, pid):
        p = st.pages.get(pid)
        return p is not None and p["shared"]

    def root_page(self, st, bid):
        while bid in st.blocks:
            bid = st.blocks[bid]["parent"]
        return bid

    def route(self, st, data, path):
        parts = path.strip("/").split("/")
        m = self.command
        if parts[:1] != ["v1"]:
            return err(400, "invalid_request_url", "Invalid request URL.")
        parts = parts[1:]
        if m == "GET" and parts == ["users", "me"]:
            return 200, {"object": "user", "id": "b0b0b0b0-0000-4000-8000-000000000001",
                         "type": "bot", "name": st.bot,
                         "bot": {"owner": {"type": "workspace", "workspace": True},
                                 "workspace_name": "Acme"}}
        if len(parts) == 2 and parts[0] == "pages" and m == "GET":
            pid = canon(parts[1])
            if pid in st.rows and not st.rows[pid]["archived"]:
                return 200, {"object": "page", "id": pid, "archived": False,
                             "properties": st.rows[pid]["properties"]}
            if not self.page_visible(st, pid):
                return not_found(parts[1])
            if st.knobs.get("unshare_after_get") and canon(st.knobs["unshare_after_get"]) == pid:
                st.knobs.pop("unshare_after_get")
                st.pages[pid]["shared"] = False
            a = st.pages[pid]["archived"]
            return 200, {"object": "page", "id": pid, "archived": a, "in_trash": a}
        if len(parts) == 2 and parts[0] == "databases" and m == "GET":
            if canon(parts[1]) != st.db:
                return not_found(parts[1])
            return 200, {"object": "database", "id": st.db, "archived": False,
                         "properties": {n: {"id": n, "name": n, "type": t}
                                        for n, t in ROW_SCHEMA.items()}}
        if len(parts) == 3 and parts[0] == "databases" and parts[2] == "query" and m == "POST":
            if canon(parts[1]) != st.db:
                return not_found(parts[1])
            size = min(int(data.get("page_size", 100)), 100)
            live = [r for r in st.row_order if not st.rows[r]["archived"]]
            start = live.index(data["start_cursor"]) if data.get("start_cursor") in live else 0
            chunk = live[start:start + size]
            more = start + size < len(live)
            results = []
            for rid in chunk:
                props = {}
                for name, prop in st.rows[rid]["properties"].items():
                    p = dict(prop)
                    p["type"] = ROW_SCHEMA[name]
                    if p["type"] in ("title", "rich_text"):
                        p[p["type"]] = [dict(x, plain_text=x["text"]["content"])
                                        for x in prop[p["type"]]]
                    props[name] = p
                results.append({"object": "page", "id": rid, "properties": props})
            return 200, {"object": "list", "results": results, "has_more": more,
                         "next_cursor": live[start + size] if more else None}
        if parts == ["pages"] and m == "POST":
            if canon((data.get("parent") or {}).get("database_id", "")) != st.db:
                return not_found("parent")
            props = self.check_props(data.get("properties"))
            rid = str(uuid.uuid4())
            st.rows[rid] = {"properties": props, "archived": False}
            st.row_order.append(rid)
            return 200, {"object": "page", "id": rid}
        if len(parts) == 2 and parts[0] == "pages" and m == "PATCH":
            rid = canon(parts[1])
            if rid not in st.rows:
                return not_found(parts[1])
            props = self.check_props(data.get("properties"), partial=True)
            st.rows[rid]["properties"].update(props)
            return 200, {"object": "page", "id": rid}
        if len(parts) == 3 and parts[0] == "blocks" and parts[2] == "children":
            bid = canon(parts[1])
            if bid in st.pages:
                if not self.page_visible(st, bid):
                    return not_found(parts[1])
                holder = st.pages[bid]
                ptype = "page"
            elif bid in st.blocks and self.page_visible(st, self.root_page(st, bid)):
                holder = st.blocks[bid]
                ptype = holder["type"]
            else:
                return not_found(parts[1])
            if m == "GET":
                q = parse_qs(urlsplit(self.path).query)
                size = min(int(q.get("page_size", ["100"])[0]), 100)
                live = [c for c in holder["children"] if not st.blocks[c]["archived"]]
                cur = q.get("start_cursor", [None])[0]
                start = live.index(cur) if cur in live else 0
                more = start + size < len(live)
                return 200, {"object": "list", "has_more": more,
                             "next_cursor": live[start + size] if more else None,
                             "results": [self.block_obj(st, c) for c in live[start:start + size]]}
            if m == "PATCH":
                if holder.get("archived") or (ptype == "page" and holder["archived"]):
                    raise Invalid("Can't edit block that is archived. You must unarchive "
                                  "the block before editing.")
                if ptype != "page" and ptype not in NESTS:
                    raise Invalid("Block type %s does not support children." % ptype)
                st.appends += 1
                if k_fail(st):
                    return err(500, "internal_server_error", "Injected failure.")
                kids = data.get("children")
                if ptype == "table":
                    self.width = holder["body"].get("table_width")
                self.check_tree(kids, ptype, 0, [0])
                ids = [self.store(st, b, bid) for b in kids]
                holder["children"].extend(ids)
                if st.knobs.pop("double_append", False):
                    holder["children"].extend(self.store(st, b, bid) for b in kids)
                if st.knobs.get("storm_after_appends"):
                    st.knobs["storm_after_appends"] -= 1
                return 200, {"object": "list", "results": [self.block_obj(st, i) for i in ids]}
        if len(parts) == 2 and parts[0] == "blocks" and m == "DELETE":
            bid = canon(parts[1])
            if bid not in st.blocks or not self.page_visible(st, self.root_page(st, bid)):
                return not_found(parts[1])
            if st.blocks[bid]["archived"]:
                raise Invalid("Can't edit block that is archived.")
            st.blocks[bid]["archived"] = True
            return 200, self.block_obj(st, bid)
        return err(400, "invalid_request_url", "Invalid request URL.")

    def check_props(self, props, partial=False):
        if not isinstance(props, dict):
            raise Invalid("body.properties should be an object")
        for name, prop in props.items():
            t = ROW_SCHEMA.get(name)
            if t is None:
                raise Invalid("%s is not a property that exists." % name)
            if t in ("title", "rich_text"):
                check_rich(prop.get(t), "properties.%s.%s" % (name, t))
            elif not isinstance(prop.get("date"), dict):
                raise Invalid("properties.%s.date should be an object" % name)
        if not partial and set(props) != set(ROW_SCHEMA):
            raise Invalid("a new row needs every property")
        return json.loads(json.dumps(props))

    def check_tree(self, kids, ptype, depth, count):
        if not isinstance(kids, list):
            raise Invalid("body.children should be an array")
        if len(kids) > 100:
            raise Invalid("body.children.length should be <= 100, instead was %d" % len(kids))
        if depth > 2:
            raise Invalid("body.children: more than two levels of nesting in one request")
        for b in kids:
            count[0] += 1
            if count[0] > 1000:
                raise Invalid("more than 1000 blocks in one request")
            t = b.get("type")
            body = b.get(t)
            if not isinstance(body, dict):
                raise Invalid("block of type %s has no body" % t)
            if t == "table_row":
                if ptype != "table":
                    raise Invalid("table_row outside a table")
                if len(body.get("cells", [])) != self.width:
                    raise Invalid("Number of cells in table row must match the table width.")
                for c in body["cells"]:
                    check_rich(c, "table_row.cells[]")
            elif t in TEXT_TYPES:
                check_rich(body.get("rich_text"), t + ".rich_text")
                if t == "code" and body.get("language") not in LANGUAGES:
                    raise Invalid("code.language is not a Notion language")
            elif t == "table":
                if not body.get("children"):
                    raise Invalid("a table needs its rows when it is created")
            elif t != "divider":
                raise Invalid("unsupported block type %s" % t)
            if ptype == "table" and t != "table_row":
                raise Invalid("a table holds table rows only")
            if "children" in body:
                if t not in NESTS:
                    raise Invalid("Block type %s does not support children." % t)
                if t == "table":
                    self.width = body.get("table_width")
                self.check_tree(body["children"], t, depth + 1, count)

    def store(self, st, b, parent):
        t = b["type"]
        body = dict(b[t])
        kids = body.pop("children", [])
        bid = str(uuid.uuid4())
        st.blocks[bid] = {"type": t, "body": body, "children": [],
                          "archived": False, "parent": parent}
        st.blocks[bid]["children"] = [self.store(st, k, bid) for k in kids]
        return bid

    def block_obj(self, st, bid):
        b = st.blocks[bid]
        return {"object": "block", "id": bid, "type": b["type"], b["type"]: b["body"],
                "archived": b["archived"],
                "has_children": any(not st.blocks[c]["archived"] for c in b["children"])}


def k_fail(st):
    n = st.knobs.get("fail_append")
    if n is None:
        return False
    if n <= 1:
        st.knobs.pop("fail_append")
        return True
    st.knobs["fail_append"] = n - 1
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    a = ap.parse_args()
    with open(a.config) as f:
        cfg = json.load(f)
    srv = ThreadingHTTPServer((a.host, 0), Handler)
    srv.state = State(cfg)
    srv.logpath = a.log
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
