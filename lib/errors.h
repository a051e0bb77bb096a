/*
 * errors: the one catalog of error codes, and the standard error body.
 *
 * Every non-2xx answer of the API, from the app and from nginx alike, is
 *
 *   {"error":{"code":"EXPORT_NOT_FOUND","message":"...",
 *             "request_id":"...","details":[...]}}
 *
 * The catalog also lists the failure codes a job can end with
 * (EXPORT_LIMIT_ROWS, ...): they appear in a job's "error" object, never as
 * an HTTP answer, and have status 0 here. docs/api/errors.md must list every
 * code of this catalog (the spec consistency check compares them through
 * `opsctl error-codes`).
 */
#ifndef OPS_ERRORS_H
#define OPS_ERRORS_H

#include <jansson.h>
#include <stdio.h>

struct error_def {
	const char	*code;
	int		 status;	/* HTTP status; 0 for job failure codes */
	const char	*message;	/* default message */
};

/* Look a code up; NULL when it is not in the catalog. */
const struct error_def *error_find(const char *code);

/*
 * Build the standard error body. message may be NULL (the catalog's default
 * is used); request_id may be NULL ("" is sent); details may be NULL (an
 * empty array is sent) and is stolen (its reference is consumed). Returns a
 * new reference.
 */
json_t	*error_body(const char *code, const char *message,
	    const char *request_id, json_t *details);

/* One entry of "details": {"field": field, "issue": issue}. New reference. */
json_t	*error_detail(const char *field, const char *issue);

/* Print the catalog as lines "CODE<TAB>STATUS<TAB>message". */
void	 error_print_catalog(FILE *out);

#endif
