// api.js: the one place that talks to the ops API. Every route the console
// uses is in ROUTES, written as in docs/api/openapi.yaml;
// scripts/spec_consistency_check (check console-routes) fails when one is
// not in the spec, or when another console file calls fetch() itself.

export const ROUTES = {
	health:       'GET /healthz',
	ready:        'GET /readyz',
	status:       'GET /api/ops/status',
	history:      'GET /api/ops/status/history',
	listExports:  'GET /api/ops/audit-exports',
	createExport: 'POST /api/ops/audit-exports',
	getExport:    'GET /api/ops/audit-exports/{id}',
	cancelExport: 'DELETE /api/ops/audit-exports/{id}',
	jobEvents:    'GET /api/ops/audit-exports/{id}/events',
	retryExport:  'POST /api/ops/audit-exports/{id}/retry',
	bulkCancel:   'POST /api/ops/audit-exports/cancel',
	// reached by the browser through result.download_url (a signed URL)
	download:     'GET /api/ops/audit-exports/{id}/download',
	locks:        'GET /api/ops/scheduler/locks',
	releaseLock:  'POST /api/ops/scheduler/locks/{name}/release',
	listWebhooks: 'GET /api/ops/webhooks',
	createWebhook: 'POST /api/ops/webhooks',
	deleteWebhook: 'DELETE /api/ops/webhooks/{id}',
	rotateWebhookSecret: 'POST /api/ops/webhooks/{id}/rotate-secret',
	webhookDeliveries: 'GET /api/ops/webhooks/{id}/deliveries',
	redeliverWebhook: 'POST /api/ops/webhooks/{id}/deliveries/{delivery_id}/redeliver',
};

// An API answer that is not 2xx, in the standard error format (CONTRACT
// section 4), or a network failure (status 0, code NETWORK_ERROR).
export class ApiError extends Error {
	constructor(status, error, retryAfter) {
		super(error.message || `HTTP ${status}`);
		this.status = status;
		this.code = error.code || `HTTP_${status}`;
		this.requestId = error.request_id || null;
		this.details = Array.isArray(error.details) ? error.details : [];
		this.retryAfter = retryAfter;
	}
	// worth retrying later: rate limited, server side or network
	get transient() { return this.status === 0 || this.status === 429 || this.status >= 500; }
}

function retryAfterSeconds(res) {
	const v = res.headers.get('Retry-After');
	if (v === null) return null;
	const n = Number(v);
	if (Number.isFinite(n) && n >= 0) return n;
	const d = Date.parse(v);
	return Number.isNaN(d) ? null : Math.max(0, (d - Date.now()) / 1000);
}

// call(route, {params, query, body, token, headers}) -> {status, data, retryAfter}
// Throws ApiError. params fill {id}/{name}; query is an object (empty
// values left out).
export async function call(route, opts = {}) {
	const [method, template] = ROUTES[route].split(' ');
	let path = template.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(opts.params[k]));
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(opts.query || {})) {
		if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
	}
	if ([...q].length) path += `?${q}`;
	const headers = { Accept: 'application/json', ...(opts.headers || {}) };
	if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
	let body;
	if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(opts.body);
	}
	let res;
	try {
		res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit', redirect: 'error' });
	} catch (e) {
		throw new ApiError(0, { code: 'NETWORK_ERROR', message: `the ops API did not answer (${e.message}): check your connection and retry` }, null);
	}
	const retryAfter = retryAfterSeconds(res);
	let data = null;
	const text = await res.text();
	if (text) {
		try { data = JSON.parse(text); } catch { data = null; }
	}
	if (!res.ok) {
		const err = data && typeof data.error === 'object' && data.error !== null ? data.error
			: { code: `HTTP_${res.status}`, message: `unexpected answer (HTTP ${res.status}) without the standard error body`,
			    request_id: res.headers.get('X-Request-Id') };
		throw new ApiError(res.status, err, retryAfter);
	}
	return { status: res.status, data, retryAfter };
}
