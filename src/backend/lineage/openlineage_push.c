/*
 * openlineage_push.c - the OpenLineage push: with des.openlineage_url set,
 * the trigger dispatcher POSTs each run's events to that endpoint
 * (Marquez's /api/v1/lineage takes one event per request), with retries
 * and dead letters (docs/lineage.md, "OpenLineage").
 *
 * The events are queued by the runs' own transactions (des.openlineage_
 * outbox). A round claims a batch with a lease and renders the events
 * (one transaction), sends them one by one outside any transaction (libcurl,
 * a bounded time each, aborted by a shutdown request), then records what
 * was sent and what failed (one more transaction): a sent event's row goes;
 * a failed one waits des.trigger_retry_base * 2^(attempts - 1), and after
 * des.trigger_max_attempts goes to des.openlineage_dead_letters. A
 * dispatcher killed after sending and before recording sends those events
 * again when their lease ends: delivery is at least once, as OpenLineage
 * consumers expect (an event is identified by its run and type).
 *
 * The bearer token, if any, is read from des.openlineage_token_file at each
 * round and goes in an Authorization header only: it is in no setting
 * (a reload logs the settings that changed, and pg_db_role_setting shows
 * per-database settings to everyone), and never in an error or the logs.
 */
#include "pg_des.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "lineage/lineage.h"
#include "s3/s3.h"
#include "workers/workers.h"

char	   *des_openlineage_url = NULL;
char	   *des_openlineage_token_file = NULL;
int			des_openlineage_timeout_ms = 10 * 1000;

/* events claimed per round; a claim is the sender's for this long */
#define PUSH_BATCH 50
#define PUSH_LEASE_MS (5 * 60 * 1000)

static const char *const claim_query =
"SELECT run_id, event_type, attempts, event FROM des_internal.openlineage_claim(n => $1, lease => $2)";
static const char *const next_due_query =
"SELECT des_internal.openlineage_next_due() AS next_due_ms";
static const char *const sent_query =
"SELECT des_internal.openlineage_sent(runs => $1, types => $2)";
static const char *const failed_query =
"SELECT des_internal.openlineage_failed(run => $1, type => $2, error => $3, event => $4, max_attempts => $5, retry_base => $6)";

typedef struct PushEvent
{
	Datum		run_id;			/* uuid, in the round's memory */
	char	   *type;
	char	   *event;
	char	   *error;			/* NULL: sent */
} PushEvent;

typedef struct PushRound
{
	char	   *token;			/* read from des.openlineage_token_file; wiped after the round */
	PushEvent  *events;
	int			n;
	int			tried;			/* events whose POST has ended */
	long		next_due_ms;	/* nothing claimed: until the next is due (-1: none) */
} PushRound;

/* Unit 1: claim a batch and render its events (committed: the lease holds even if the sender dies). */
static void
claim_unit(void *arg)
{
	PushRound  *r = arg;
	Oid			types[2] = {INT4OID, INTERVALOID};
	Datum		args[2] = {Int32GetDatum(PUSH_BATCH), DesMsInterval(PUSH_LEASE_MS)};
	MemoryContext outer = CurrentMemoryContext;

	r->n = 0;
	r->next_due_ms = -1;
	if (!DesWorkerBegin(claim_query))
		return;
	if (SPI_execute_with_args(claim_query, 2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "des_internal.openlineage_claim failed");
	if (SPI_processed > 0)
	{
		uint64		rows = SPI_processed;
		MemoryContext spi_cxt = MemoryContextSwitchTo(outer);

		r->events = palloc0(sizeof(PushEvent) * rows);
		for (uint64 i = 0; i < rows; i++)
		{
			bool		isnull;
			Datum		run = DesSpiGet(i, "run_id", &isnull);
			PushEvent  *e = &r->events[r->n++];

			e->run_id = datumCopy(run, false, 16);
			e->type = TextDatumGetCString(DesSpiGet(i, "event_type", &isnull));
			e->event = TextDatumGetCString(DesSpiGet(i, "event", &isnull));
		}
		MemoryContextSwitchTo(spi_cxt);
	}
	else
	{
		bool		isnull;
		Datum		due;

		if (!DesSpiOneRow(next_due_query, 0, NULL, NULL, NULL))
			elog(ERROR, "des_internal.openlineage_next_due did not return a row");
		due = DesSpiGet(0, "next_due_ms", &isnull);
		if (!isnull)
			r->next_due_ms = (long) Min(DatumGetInt64(due), (int64) INT_MAX);
	}
	DesWorkerCommit();
}

/* ---- one POST ---- */

/* The handle and headers of a transfer, released by the memory context's reset even on ERROR. */
typedef struct PostHandle
{
	CURL	   *curl;
	struct curl_slist *headers;
	MemoryContextCallback cb;
} PostHandle;

static void
post_handle_release(void *arg)
{
	PostHandle *p = arg;

	if (p->curl)
		curl_easy_cleanup(p->curl);
	if (p->headers)
		curl_slist_free_all(p->headers);
	p->curl = NULL;
	p->headers = NULL;
}

/* libcurl callbacks: no palloc, no ereport (style.md) */
static size_t
discard_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

static int
abort_on_shutdown_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	return ProcDiePending ? 1 : 0;
}

/*
 * The token from des.openlineage_token_file (NULL when none is set), its
 * surrounding blanks and line breaks dropped; *error says why it could not
 * be read (the file's name, never its content).
 */
static char *
read_token(char **error)
{
	const char *path = des_openlineage_token_file;
	char		buf[4096];
	ssize_t		len = 0;
	int			fd;
	char	   *start;
	char	   *end;
	char	   *token;

	*error = NULL;
	if (path == NULL || path[0] == '\0')
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		*error = psprintf("could not open des.openlineage_token_file \"%s\": %m", path);
		return NULL;
	}
	while (len < (ssize_t) sizeof(buf) - 1)
	{
		ssize_t		n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			*error = psprintf("could not read des.openlineage_token_file \"%s\": %m", path);
			close(fd);
			explicit_bzero(buf, sizeof(buf));
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	for (start = buf; *start == ' ' || *start == '\t' || *start == '\n' || *start == '\r'; start++)
		;
	for (end = buf + len; end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'); end--)
		;
	token = pnstrdup(start, end - start);
	explicit_bzero(buf, sizeof(buf));
	for (char *c = token; *c; c++)
		if ((unsigned char) *c < 0x20)
		{
			*error = psprintf("des.openlineage_token_file \"%s\" holds more than one line", path);
			explicit_bzero(token, strlen(token));
			return NULL;
		}
	return token;
}

/* POST one event; NULL when the endpoint took it (2xx), else why not (without the token). */
static char *
post_event(const char *url, const char *token, const char *event)
{
	PostHandle *p = palloc0(sizeof(PostHandle));
	char		errbuf[CURL_ERROR_SIZE] = "";
	CURLcode	rc;
	long		status = 0;
	char	   *result = NULL;

	p->cb.func = post_handle_release;
	p->cb.arg = p;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &p->cb);
	p->curl = curl_easy_init();
	if (p->curl == NULL)
		return pstrdup("could not create a libcurl handle");
	p->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (token && token[0])
	{
		char	   *auth = psprintf("Authorization: Bearer %s", token);

		p->headers = curl_slist_append(p->headers, auth);
		explicit_bzero(auth, strlen(auth));
		pfree(auth);
	}
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, event);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(event));
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, (long) des_openlineage_timeout_ms);
	curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, (long) Min(des_openlineage_timeout_ms, 10000));
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(p->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(p->curl, CURLOPT_XFERINFOFUNCTION, abort_on_shutdown_cb);
	curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(p->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
	post_handle_release(p);
	CHECK_FOR_INTERRUPTS();		/* a shutdown that aborted the transfer ends the worker here */
	if (rc != CURLE_OK)
		result = psprintf("could not send the event: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		result = psprintf("the endpoint answered HTTP %ld", status);
	return result;
}

/* Unit 2 (outside any transaction): each event of the round. */
static void
send_unit(void *arg)
{
	PushRound  *r = arg;

	char	   *token_error;

	DesS3Init();				/* libcurl's global state, set up once per process */
	r->token = read_token(&token_error);
	for (int i = 0; i < r->n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		DesDebugPause("openlineage_mid_send", NULL);
		r->events[i].error = token_error ? pstrdup(token_error)
			: post_event(des_openlineage_url, r->token, r->events[i].event);
		r->tried = i + 1;
	}
	if (r->token)
	{
		explicit_bzero(r->token, strlen(r->token));
		r->token = NULL;
	}
}

/* Unit 3: the sent events' rows go; the others wait (or go to the dead letters). */
static void
finish_unit(void *arg)
{
	PushRound  *r = arg;
	DesDatumVec runs = {0};
	DesDatumVec types = {0};

	if (!DesWorkerBegin(sent_query))
		return;
	for (int i = 0; i < r->n; i++)
	{
		PushEvent  *e = &r->events[i];

		if (e->error == NULL)
		{
			DesVecPush(&runs, e->run_id);
			DesVecPush(&types, CStringGetTextDatum(e->type));
		}
		else
		{
			Oid			argtypes[6] = {UUIDOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID};
			Datum		args[6] = {e->run_id, CStringGetTextDatum(e->type), CStringGetTextDatum(e->error),
				CStringGetTextDatum(e->event), Int32GetDatum(des_trigger_max_attempts),
			DesMsInterval(des_trigger_retry_base_ms)};

			if (SPI_execute_with_args(failed_query, 6, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "des_internal.openlineage_failed failed");
		}
	}
	if (runs.n > 0)
	{
		Oid			argtypes[2] = {UUIDARRAYOID, TEXTARRAYOID};
		Datum		args[2] = {DesVecArray(&runs, UUIDOID), DesVecArray(&types, TEXTOID)};

		if (SPI_execute_with_args(sent_query, 2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "des_internal.openlineage_sent failed");
	}
	DesWorkerCommit();
}

/*
 * Up to max rounds of the outbox; *next_due_ms: when the next event is due
 * (0: at once, -1: nothing waits). Called by the dispatcher when no trigger
 * is due and des.openlineage_url is set.
 */
int
DesOpenLineagePushRound(int max, long *next_due_ms)
{
	int			sent = 0;

	*next_due_ms = -1;
	for (int round = 0; round < max; round++)
	{
		PushRound	r = {0};

		CHECK_FOR_INTERRUPTS();
		if (!DesWorkerGuard(claim_unit, &r, NULL, 0))
			return sent;
		if (r.n == 0)
		{
			*next_due_ms = r.next_due_ms;
			return sent;
		}
		if (!DesWorkerGuard(send_unit, &r, NULL, 0))
		{
			if (r.token)
				explicit_bzero(r.token, strlen(r.token));
			/* what was not tried (or was being sent) failed with the round */
			for (int i = r.tried; i < r.n; i++)
				r.events[i].error = pstrdup("the round failed before sending it (see the server log)");
		}
		for (int i = 0; i < r.n; i++)
		{
			if (r.events[i].error)
				ereport(LOG,
						(errmsg("pg_des dispatcher: OpenLineage event %s of run %s not sent: %s", r.events[i].type,
								DatumGetCString(DirectFunctionCall1(uuid_out, r.events[i].run_id)),
								r.events[i].error)));
			else
				sent++;
		}
		(void) DesWorkerGuard(finish_unit, &r, NULL, 0);
	}
	*next_due_ms = 0;
	return sent;
}
