/*
 * manifest: docs/notion-sync.yaml and the OpenAPI route table. See
 * manifest.h.
 */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <yaml.h>

#include "xalloc.h"

/*
 * Open path beneath the directory dirfd, never leaving it: openat2(2) with
 * RESOLVE_BENEATH (no absolute path, no ".." above dirfd) and
 * RESOLVE_NO_SYMLINKS (no symbolic link in any component, magic links of
 * /proc included). Where openat2 is missing (before Linux 5.6: ENOSYS) or
 * filtered (seccomp: EPERM) the same rules are kept by walking the path
 * one component at a time with O_NOFOLLOW. -1 with errno: ELOOP a symbolic link, EXDEV out of
 * the root, or open's own.
 */
static int
open_beneath(int dirfd, const char *path)
{
	struct open_how how;
	char part[PATH_MAX];
	const char *p = path;
	long fd;
	int cur = dirfd;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	/* ENOSYS: no openat2; EPERM: a seccomp filter refusing it (systemd's
	 * SystemCallErrorNumber=EPERM), never an answer for these flags */
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return (int)fd;
	if (*p == '/') {
		errno = EXDEV;
		return -1;
	}
	for (;;) {
		size_t n = strcspn(p, "/");
		int next;

		if (n >= sizeof(part)) {
			errno = ENAMETOOLONG;
			break;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		if (strcmp(part, "..") == 0) {
			errno = EXDEV;
			break;
		}
		if (p[n] == '\0') {
			next = openat(cur, part, (int)how.flags | O_NOFOLLOW);
			if (cur != dirfd)
				close(cur);
			return next;
		}
		next = openat(cur, n ? part : ".", O_PATH | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (next == -1 && errno == ENOTDIR)
			errno = ELOOP;	/* a link to a directory, likely */
		if (cur != dirfd)
			close(cur);
		if ((cur = next) == -1)
			return -1;
		p += n + 1;
	}
	if (cur != dirfd) {
		int e = errno;

		close(cur);
		errno = e;
	}
	return -1;
}

int
read_file_max(int dirfd, const char *path, size_t max, struct buf *out,
    char *err, size_t errsz)
{
	char chunk[65536];
	struct stat st;
	ssize_t n;
	int fd;

	buf_reset(out);
	if (dirfd == AT_FDCWD)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	else
		fd = open_beneath(dirfd, path);
	if (fd == -1) {
		if (dirfd != AT_FDCWD && errno == ELOOP)
			snprintf(err, errsz, "%s is or passes through a symbolic "
			    "link: refused, files are read only inside the "
			    "repository root (--root); replace the link by the "
			    "file itself", path);
		else if (dirfd != AT_FDCWD && errno == EXDEV)
			snprintf(err, errsz, "%s leaves the repository root "
			    "(--root): refused", path);
		else
			snprintf(err, errsz, "cannot open %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s is not a regular file: refused", path);
		close(fd);
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errsz, "cannot read %s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (out->len + (size_t)n > max) {
			snprintf(err, errsz, "%s is larger than %zu bytes",
			    path, max);
			close(fd);
			return -1;
		}
		buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

/* The document of the YAML file path. 0, or -1 with err. */
static int
yaml_load_file(int dirfd, const char *path, yaml_document_t *doc, char *err,
    size_t errsz)
{
	yaml_parser_t p;
	struct buf text = BUF_INIT;
	int rc = -1;

	if (read_file_max(dirfd, path, MANIFEST_SOURCE_MAX, &text, err,
	    errsz) == -1)
		return -1;
	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errsz, "cannot set up the YAML parser");
		buf_free(&text);
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf_str(&text),
	    text.len);
	if (!yaml_parser_load(&p, doc))
		snprintf(err, errsz, "%s:%zu: %s", path,
		    p.problem_mark.line + 1,
		    p.problem ? p.problem : "invalid YAML");
	else if (yaml_document_get_root_node(doc) == NULL) {
		snprintf(err, errsz, "%s: empty document", path);
		yaml_document_delete(doc);
	} else
		rc = 0;
	yaml_parser_delete(&p);
	buf_free(&text);
	return rc;
}

static const char *
scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ?
	    (const char *)n->data.scalar.value : NULL;
}

/* The value node of key in mapping node m, or NULL. */
static yaml_node_t *
map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
	if (m == NULL || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	    p < m->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(d, p->key));

		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

/* An id or $VARIABLE into out. */
static int
resolve_id(const char *v, char out[NOTION_ID_LEN + 1], const char *where,
    char *err, size_t errsz)
{
	const char *val = v;

	if (v != NULL && v[0] == '$') {
		val = getenv(v + 1);
		if (val == NULL || *val == '\0') {
			snprintf(err, errsz, "%s: the environment variable "
			    "%.64s is not set: set it to the Notion id", where,
			    v + 1);
			return -1;
		}
	}
	if (val == NULL || notion_id_normalize(val, out) == -1) {
		snprintf(err, errsz, "%s must be a Notion id (32 hex digits, "
		    "dashes allowed) or $VARIABLE", where);
		return -1;
	}
	return 0;
}

static int
load_doc(struct manifest *m, yaml_document_t *d, yaml_node_t *n,
    const char *path, char *err, size_t errsz)
{
	struct manifest_doc *doc = &m->docs[m->ndocs];
	const char *name = scalar(map_get(d, n, "name"));
	const char *source = scalar(map_get(d, n, "source"));
	const char *page = scalar(map_get(d, n, "page"));
	const char *gen = scalar(map_get(d, n, "generate"));
	char where[160];

	snprintf(where, sizeof(where), "%s:%zu: document", path,
	    n->start_mark.line + 1);
	if (n->type != YAML_MAPPING_NODE || name == NULL || *name == '\0' ||
	    source == NULL || *source == '\0') {
		snprintf(err, errsz, "%s needs name, source and page", where);
		return -1;
	}
	if (strlen(name) > 100 || strstr(source, "..") || source[0] == '/') {
		snprintf(err, errsz, "%s: name longer than 100 characters, or "
		    "source not a relative path inside the repository", where);
		return -1;
	}
	if (gen && strcmp(gen, "routes") != 0) {
		snprintf(err, errsz, "%s: generate must be \"routes\"", where);
		return -1;
	}
	for (size_t i = 0; i < m->ndocs; i++)
		if (strcmp(m->docs[i].name, name) == 0) {
			snprintf(err, errsz, "%s: the name \"%s\" is used "
			    "twice", where, name);
			return -1;
		}
	if (resolve_id(page, doc->page, where, err, errsz) == -1)
		return -1;
	for (size_t i = 0; i < m->ndocs; i++)
		if (strcmp(m->docs[i].page, doc->page) == 0) {
			snprintf(err, errsz, "%s: page %s is used twice",
			    where, doc->page);
			return -1;
		}
	doc->name = xstrdup(name);
	doc->source = xstrdup(source);
	doc->routes = gen != NULL;
	m->ndocs++;
	return 0;
}

int
manifest_load(struct manifest *m, int dirfd, const char *path, char *err,
    size_t errsz)
{
	yaml_document_t d;
	yaml_node_t *root, *docs;
	char where[160];
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (yaml_load_file(dirfd, path, &d, err, errsz) == -1)
		return -1;
	root = yaml_document_get_root_node(&d);
	snprintf(where, sizeof(where), "%s: database", path);
	if (resolve_id(scalar(map_get(&d, root, "database")), m->database,
	    where, err, errsz) == -1)
		goto out;
	docs = map_get(&d, root, "documents");
	if (docs == NULL || docs->type != YAML_SEQUENCE_NODE ||
	    docs->data.sequence.items.top == docs->data.sequence.items.start) {
		snprintf(err, errsz, "%s: documents must be a non-empty list",
		    path);
		goto out;
	}
	for (yaml_node_item_t *i = docs->data.sequence.items.start;
	    i < docs->data.sequence.items.top; i++) {
		if (m->ndocs == MANIFEST_MAX_DOCS) {
			snprintf(err, errsz, "%s: more than %d documents", path,
			    MANIFEST_MAX_DOCS);
			goto out;
		}
		if (load_doc(m, &d, yaml_document_get_node(&d, *i), path, err,
		    errsz) == -1)
			goto out;
	}
	rc = 0;
out:
	yaml_document_delete(&d);
	if (rc == -1)
		manifest_free(m);
	return rc;
}

void
manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->ndocs; i++) {
		free(m->docs[i].name);
		free(m->docs[i].source);
	}
	memset(m, 0, sizeof(*m));
}

/* A table cell: no pipe, no newline. */
static void
cell(struct buf *md, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			buf_appends(md, "\\|");
		else if (*s == '\n' || *s == '\r')
			buf_appendc(md, ' ');
		else
			buf_appendc(md, *s);
	}
}

static void
route_rows(yaml_document_t *d, yaml_node_t *paths, struct buf *md)
{
	static const char *const methods[] = { "get", "put", "post", "delete",
	    "patch", "head", "options", "trace" };

	for (yaml_node_pair_t *p = paths->data.mapping.pairs.start;
	    p < paths->data.mapping.pairs.top; p++) {
		const char *path = scalar(yaml_document_get_node(d, p->key));
		yaml_node_t *item = yaml_document_get_node(d, p->value);

		for (size_t i = 0; path && i < sizeof(methods) /
		    sizeof(methods[0]); i++) {
			yaml_node_t *op = map_get(d, item, methods[i]);
			const char *sum = scalar(map_get(d, op, "summary"));
			const char *opid = scalar(map_get(d, op, "operationId"));

			if (op == NULL)
				continue;
			buf_appends(md, "| ");
			for (const char *c = methods[i]; *c; c++)
				buf_appendc(md, (char)(*c - 'a' + 'A'));
			buf_appends(md, " | `");
			cell(md, path);
			buf_appends(md, "` | ");
			cell(md, sum ? sum : "");
			buf_appends(md, " | ");
			if (opid) {
				buf_appendc(md, '`');
				cell(md, opid);
				buf_appendc(md, '`');
			}
			buf_appends(md, " |\n");
		}
	}
}

int
openapi_read(int dirfd, const char *path, char *version, size_t versionsz,
    struct buf *md, char *err, size_t errsz)
{
	yaml_document_t d;
	yaml_node_t *root, *paths;
	const char *v, *title;

	if (yaml_load_file(dirfd, path, &d, err, errsz) == -1)
		return -1;
	root = yaml_document_get_root_node(&d);
	v = scalar(map_get(&d, map_get(&d, root, "info"), "version"));
	title = scalar(map_get(&d, map_get(&d, root, "info"), "title"));
	paths = map_get(&d, root, "paths");
	if (v == NULL || paths == NULL || paths->type != YAML_MAPPING_NODE) {
		snprintf(err, errsz, "%s: no info.version or no paths: not an "
		    "OpenAPI file", path);
		yaml_document_delete(&d);
		return -1;
	}
	if (version)
		snprintf(version, versionsz, "%s", v);
	if (md) {
		buf_appendf(md, "# Routes\n\nGenerated from `%s` (%s, version "
		    "%s) by ops-notion-sync. Do not edit in Notion.\n\n"
		    "| method | path | summary | operationId |\n"
		    "|---|---|---|---|\n", path, title ? title : "OpenAPI", v);
		route_rows(&d, paths, md);
	}
	yaml_document_delete(&d);
	return 0;
}
