/* Directory changes that reach the running server (issue 11, "changes without restart"):
 * the notices migration 6's triggers send on the channel madoguchi_directory, handed to
 * the listener the signal layer registered. store.c LISTENs on the channel after every
 * connect, together with the identity channel; identity.c reads every notice of the
 * connection and passes this channel's here. */
#include "base/log.h"
#include "store/internal.h"
#include "store/store.h"

#include <string.h>

void store_on_directory_change(store *s, store_directory_change_cb cb, void *user)
{
	if (!s)
		return;
	s->dir_cb = cb;
	s->dir_user = user;
}

void store_live_notice(store *s, const char *payload)
{
	char line[96];
	LOG_INFO("store", "directory changed table=%s",
	         store_one_line(payload ? payload : "", line, sizeof line));
	if (s->dir_cb)
		s->dir_cb(s->dir_user, payload ? payload : "");
}

void store_live_reconnected(store *s)
{
	if (s->dir_cb)
		s->dir_cb(s->dir_user, NULL);
}
