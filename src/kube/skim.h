/* skim.h - parsing an API server's JSON without the fields nobody will read.
 *
 * A consumer may not read some of an object's fields: no one reads metadata.managedFields
 * (it repeats the shape of the whole spec), and the engine reads a SparkApplication's
 * metadata and status only. Building jansson trees for them was the largest part of decoding
 * a watch event, and of a list page (~40 KB of tree per object, 500 objects a page). A scan
 * that only skips over values (no trees, no allocation besides the list of cuts) finds those
 * members first and the parser is fed the text without them.
 *
 * Ownership: kube_skim_load returns a new reference (the caller decrefs), like json_loadb.
 */
#ifndef SPOK_KUBE_SKIM_H
#define SPOK_KUBE_SKIM_H

#include <jansson.h>
#include <stddef.h>

/* Fields an object may be read without (or-ed into a `skip`). */
enum {
	KUBE_SKIP_MANAGED_FIELDS = 1u << 0, /* metadata.managedFields */
	KUBE_SKIP_SPEC = 1u << 1,           /* spec */
};

/* Where the objects are in the text. */
enum kube_skim_shape {
	KUBE_SKIM_EVENT, /* a watch event: {"type":..., "object":{...}} */
	KUBE_SKIM_LIST,  /* a List: {"items":[{...}, ...], ...}: every object of items */
};

/* json_loadb(p, n, 0, jerr) with the objects' members named by skip (KUBE_SKIP_*) left out:
 * every one, if a key repeats; a key written with escapes is not recognised and stays; only
 * the objects' own spec and their metadata's managedFields, not members of those names
 * deeper down. What is cut is not checked, so a text that is valid JSON only once they are
 * cut loads too. Text the scan does not follow is parsed whole, as is an invalid result (so
 * an error's column is the text's own). */
json_t *kube_skim_load(const char *p, size_t n, enum kube_skim_shape shape, unsigned skip,
		       json_error_t *jerr);

#endif
