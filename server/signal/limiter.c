/* Credential-failure counting (limiter.h): a fixed table of entries hashed by key, chained
 * through indices, with a free list. Nothing is allocated after limiter_new, so a flood of
 * new keys costs no memory; it only competes for the table's room, where locked keys and
 * keys with attempts in flight always win. */
#include "signal/limiter.h"

#include <stdlib.h>
#include <string.h>

typedef struct limiter_entry {
	char key[LIMITER_KEY_MAX];
	int failures;
	int pending;
	int64_t window_start_us; /* the first failure still counted */
	int64_t locked_until_us; /* 0 = not locked */
	int next;                /* next entry in the bucket, or in the free list; -1 = none */
	int used;
} limiter_entry;

struct limiter {
	limiter_config cfg;
	limiter_entry *entries;
	int *buckets; /* 2 * capacity heads */
	int n_buckets;
	int free_head;
};

static uint32_t key_hash(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

limiter *limiter_new(const limiter_config *cfg)
{
	if (!cfg || cfg->capacity <= 0 || cfg->max_failures <= 0)
		return NULL;
	limiter *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->cfg = *cfg;
	l->n_buckets = cfg->capacity * 2;
	l->entries = calloc((size_t)cfg->capacity, sizeof *l->entries);
	l->buckets = malloc(sizeof *l->buckets * (size_t)l->n_buckets);
	if (!l->entries || !l->buckets) {
		limiter_free(l);
		return NULL;
	}
	for (int i = 0; i < l->n_buckets; i++)
		l->buckets[i] = -1;
	for (int i = 0; i < cfg->capacity; i++)
		l->entries[i].next = i + 1 < cfg->capacity ? i + 1 : -1;
	l->free_head = 0;
	return l;
}

void limiter_free(limiter *l)
{
	if (!l)
		return;
	free(l->entries);
	free(l->buckets);
	free(l);
}

/* Forgets failures whose window has passed and a lockout that has ended. */
static void entry_age(const limiter *l, limiter_entry *e, int64_t now)
{
	if (e->locked_until_us && now >= e->locked_until_us) {
		e->locked_until_us = 0;
		e->failures = 0;
	}
	if (!e->locked_until_us && e->failures && now - e->window_start_us >= l->cfg.window_us)
		e->failures = 0;
}

static int entry_locked(const limiter_entry *e, int64_t now)
{
	return e->locked_until_us && now < e->locked_until_us;
}

static int *bucket_of(limiter *l, const char *key)
{
	return &l->buckets[key_hash(key) % (uint32_t)l->n_buckets];
}

static limiter_entry *find(limiter *l, const char *key, int64_t now)
{
	for (int i = *bucket_of(l, key); i >= 0; i = l->entries[i].next) {
		limiter_entry *e = &l->entries[i];
		if (strcmp(e->key, key) == 0) {
			entry_age(l, e, now);
			return e;
		}
	}
	return NULL;
}

static void unlink_entry(limiter *l, int idx)
{
	limiter_entry *e = &l->entries[idx];
	for (int *pp = bucket_of(l, e->key); *pp >= 0; pp = &l->entries[*pp].next) {
		if (*pp == idx) {
			*pp = e->next;
			break;
		}
	}
	memset(e, 0, sizeof *e);
	e->next = l->free_head;
	l->free_head = idx;
}

/* Makes room when the table is full: first every entry that holds nothing any more; else
 * the unlocked, idle entry whose failures are oldest. Locked and busy entries stay. */
static int reclaim(limiter *l, int64_t now)
{
	int victim = -1;
	for (int i = 0; i < l->cfg.capacity; i++) {
		limiter_entry *e = &l->entries[i];
		if (!e->used)
			continue;
		entry_age(l, e, now);
		if (e->pending || entry_locked(e, now))
			continue;
		if (!e->failures) {
			unlink_entry(l, i);
			continue;
		}
		if (victim < 0 || e->window_start_us < l->entries[victim].window_start_us)
			victim = i;
	}
	if (l->free_head < 0 && victim >= 0)
		unlink_entry(l, victim);
	return l->free_head >= 0 ? 0 : -1;
}

static limiter_entry *find_or_add(limiter *l, const char *key, int64_t now)
{
	char k[LIMITER_KEY_MAX];
	size_t n = strlen(key);
	if (n >= sizeof k)
		n = sizeof k - 1;
	memcpy(k, key, n);
	k[n] = '\0';
	limiter_entry *e = find(l, k, now);
	if (e)
		return e;
	if (l->free_head < 0 && reclaim(l, now) != 0)
		return NULL;
	int idx = l->free_head;
	e = &l->entries[idx];
	l->free_head = e->next;
	memset(e, 0, sizeof *e);
	memcpy(e->key, k, n + 1);
	e->used = 1;
	int *head = bucket_of(l, e->key);
	e->next = *head;
	*head = idx;
	return e;
}

static limiter_entry *lookup(limiter *l, const char *key, int64_t now)
{
	char k[LIMITER_KEY_MAX];
	size_t n = strlen(key);
	if (n >= sizeof k)
		n = sizeof k - 1;
	memcpy(k, key, n);
	k[n] = '\0';
	return find(l, k, now);
}

int64_t limiter_blocked(limiter *l, const char *key, int64_t now_us)
{
	const limiter_entry *e = lookup(l, key, now_us);
	if (!e) {
		/* An unknown key may try unless there is no room to count it. */
		if (l->free_head >= 0 || reclaim(l, now_us) == 0)
			return 0;
		return l->cfg.window_us;
	}
	if (entry_locked(e, now_us))
		return e->locked_until_us - now_us;
	if (e->failures + e->pending >= l->cfg.max_failures) {
		/* Busy with attempts in flight: try again once they are judged. A second is
		 * long enough for a password hash. */
		if (!e->failures)
			return 1000000;
		int64_t left = e->window_start_us + l->cfg.window_us - now_us;
		return left > 1000000 ? left : 1000000;
	}
	return 0;
}

int limiter_begin(limiter *l, const char *key, int64_t now_us)
{
	limiter_entry *e = find_or_add(l, key, now_us);
	if (!e)
		return -1;
	e->pending++;
	return 0;
}

void limiter_end(limiter *l, const char *key, int failed, int clear_on_success, int64_t now_us)
{
	limiter_entry *e = lookup(l, key, now_us);
	if (!e)
		return;
	if (e->pending > 0)
		e->pending--;
	if (!failed) {
		if (clear_on_success && !entry_locked(e, now_us))
			e->failures = 0;
		return;
	}
	if (entry_locked(e, now_us))
		return; /* already locked: a late failure does not extend it */
	if (!e->failures)
		e->window_start_us = now_us;
	if (++e->failures >= l->cfg.max_failures)
		e->locked_until_us = now_us + l->cfg.lockout_us;
}

int limiter_locked_count(const limiter *l, int64_t now_us)
{
	int n = 0;
	for (int i = 0; i < l->cfg.capacity; i++)
		if (l->entries[i].used && entry_locked(&l->entries[i], now_us))
			n++;
	return n;
}
