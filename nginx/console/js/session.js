// session.js: the signed-in operator. The bearer token lives in memory;
// with "keep for this tab" also in sessionStorage (gone when the tab
// closes). Never localStorage, never a URL. The claims are read only to
// show who is signed in and which controls to offer: the API verifies the
// token and stays the enforcer of every permission.

const STORAGE_KEY = 'ops-console.token';

// The role matrix of lib/rbac.c (docs/security/rbac.md): capability ->
// role -> scope, in the words of `opsctl roles`; a role without the
// capability ("no") is left out. scripts/spec_consistency_check (check
// console-rbac) fails when this differs from `opsctl roles`: keep one
// capability per line, as written here.
const MATRIX = {
	'export.create':   { SUPER_ADMIN: 'any tenant', AUDITOR: 'any tenant', TENANT_ADMIN: 'own tenant' },
	'export.download': { SUPER_ADMIN: 'any tenant', AUDITOR: 'any tenant', TENANT_ADMIN: 'own tenant' },
	'export.read':     { SUPER_ADMIN: 'any tenant', OPS_ADMIN: 'any tenant', AUDITOR: 'any tenant', TENANT_ADMIN: 'own tenant' },
	'export.cancel':   { SUPER_ADMIN: 'any tenant', OPS_ADMIN: 'any tenant', AUDITOR: 'own requests', TENANT_ADMIN: 'own tenant' },
	'ops.status':      { SUPER_ADMIN: 'any tenant', OPS_ADMIN: 'any tenant' },
	'lock.release':    { SUPER_ADMIN: 'any tenant', OPS_ADMIN: 'any tenant' },
	'webhook.manage':  { SUPER_ADMIN: 'any tenant', TENANT_ADMIN: 'own tenant' },
	'webhook.read':    { SUPER_ADMIN: 'any tenant', OPS_ADMIN: 'any tenant', AUDITOR: 'any tenant', TENANT_ADMIN: 'own tenant' },
};

function b64urlJson(seg) {
	const b64 = seg.replace(/-/g, '+').replace(/_/g, '/');
	const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
	const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
	return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
}

// decode a JWS compact token's claims (no verification: the API does that)
export function decodeClaims(token) {
	const parts = token.split('.');
	if (parts.length !== 3) throw new Error('a token has three dot-separated parts: paste the whole token');
	let claims;
	try { claims = b64urlJson(parts[1]); } catch {
		throw new Error('the token\'s payload is not base64url JSON: paste the whole token');
	}
	if (typeof claims !== 'object' || claims === null) throw new Error('the token\'s payload is not a JSON object');
	return {
		sub: typeof claims.sub === 'string' ? claims.sub : '',
		tenant: typeof claims.tenant_id === 'string' ? claims.tenant_id : null,
		roles: Array.isArray(claims.roles) ? claims.roles.filter((r) => typeof r === 'string') : [],
		exp: typeof claims.exp === 'number' ? claims.exp : null,
	};
}

export class Session {
	constructor(token, keep) {
		this.token = token;
		this.keep = keep;
		this.claims = decodeClaims(token);
	}

	// scopes of a capability: 'any tenant', 'own tenant', 'own requests'
	// (none: the roles lack it; an unknown capability is a bug here)
	scopes(cap) {
		if (!MATRIX[cap]) throw new Error(`unknown capability ${cap}`);
		return this.claims.roles.map((r) => MATRIX[cap][r]).filter(Boolean);
	}
	can(cap) { return this.scopes(cap).length > 0; }
	canAnyTenant(cap) { return this.scopes(cap).includes('any tenant'); }

	// may the operator do cap on this job (same rule as the API, rbac.md)
	canOnJob(cap, job) {
		return this.scopes(cap).some((s) =>
			s === 'any tenant' ||
			(s === 'own tenant' && this.claims.tenant !== null && job.tenant_id === this.claims.tenant) ||
			(s === 'own requests' && job.requested_by === this.claims.sub));
	}

	secondsLeft() {
		return this.claims.exp === null ? null : this.claims.exp - Date.now() / 1000;
	}
}

export function saveSession(s) {
	if (s.keep) sessionStorage.setItem(STORAGE_KEY, s.token);
	else sessionStorage.removeItem(STORAGE_KEY);
}

export function loadSession() {
	const t = sessionStorage.getItem(STORAGE_KEY);
	if (!t) return null;
	try { return new Session(t, true); } catch { sessionStorage.removeItem(STORAGE_KEY); return null; }
}

export function clearSession() { sessionStorage.removeItem(STORAGE_KEY); }
