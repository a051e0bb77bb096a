/*
 * text: copying untrusted text (Notion's answers, headers) into fixed
 * buffers for display (notion_int.h).
 */
#include "notion_int.h"

#include <string.h>

#include "utf8.h"


/*
 * Text helpers.
 */

/*
 * Copy src into dst for display: control characters and invalid UTF-8
 * become '?', the copy stops before a character that would not fit.
 */
void
notion_copy_text(char *dst, size_t dstsz, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t n = strlen((const char *)s), o = 0, k;

	if (dstsz == 0)
		return;
	while (*s) {
		k = utf8_decode(s, n, NULL);
		if (k == 0 || (k == 1 && (*s < 0x20 || *s == 0x7f))) {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = '?';
			s++;
			n--;
			continue;
		}
		if (o + k >= dstsz)
			break;
		memcpy(dst + o, s, k);
		o += k;
		s += k;
		n -= k;
	}
	dst[o] = '\0';
}

/* Copy only printable ASCII without spaces (ids from headers and bodies). */
void
notion_copy_word(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0;

	if (dstsz == 0)
		return;
	for (; src && *src && o + 1 < dstsz; src++)
		if (*src > 0x20 && *src < 0x7f)
			dst[o++] = *src;
	dst[o] = '\0';
}
