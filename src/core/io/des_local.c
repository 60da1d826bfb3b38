/*
 * des_local.c - local files as archive sources and sinks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "des/io/des_local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

/* ---- source ---- */

typedef struct local_source
{
	int			fd;
} local_source;

des_local_read_stats des_local_reads;

static bool
local_read_at(void *ctx, uint64_t off, void *buf, size_t len, des_error *err)
{
	local_source *ls = ctx;
	unsigned char *p = buf;

	des_local_reads.calls++;
	des_local_reads.bytes += len;

	while (len > 0)
	{
		ssize_t		n = pread(ls->fd, p, len > (1U << 30) ? (1U << 30) : len, (off_t) off);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return des_fail_errno(err, errno, "could not read archive at offset %llu: %s",
								  (unsigned long long) off, strerror(errno));
		}
		if (n == 0)
			return des_fail(err, DES_E_CORRUPT, "unexpected end of file at offset %llu (file shrank while reading?)",
							(unsigned long long) off);
		p += n;
		off += n;
		len -= n;
	}
	return true;
}

bool
des_local_source_open(const char *path, des_source *src, des_error *err)
{
	struct stat st;
	local_source *ls;
	int			fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(src, 0, sizeof(*src));
	if (fd < 0)
		return des_fail_errno(err, errno, "could not open \"%s\": %s", path, strerror(errno));
	if (fstat(fd, &st) != 0)
	{
		int			e = errno;

		close(fd);
		return des_fail_errno(err, e, "could not stat \"%s\": %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode))
	{
		close(fd);
		return des_fail(err, DES_E_INVALID_ARGUMENT, "\"%s\" is not a regular file", path);
	}
	ls = malloc(sizeof(*ls));
	if (ls == NULL)
	{
		close(fd);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	ls->fd = fd;
	src->read_at = local_read_at;
	src->size = (uint64_t) st.st_size;
	src->ctx = ls;
	return true;
}

void
des_local_source_close(des_source *src)
{
	local_source *ls = src->ctx;

	if (ls)
	{
		close(ls->fd);
		free(ls);
	}
	src->ctx = NULL;
}

/* ---- memory source ---- */

typedef struct memory_source
{
	const unsigned char *data;
} memory_source;

static bool
memory_read_at(void *ctx, uint64_t off, void *buf, size_t len, des_error *err)
{
	const unsigned char *data = ctx;

	(void) err;
	memcpy(buf, data + off, len);	/* bounds checked by the reader */
	return true;
}

void
des_memory_source(des_source *src, const void *data, size_t len)
{
	src->read_at = memory_read_at;
	src->size = len;
	src->ctx = (void *) data;
}

/* ---- paths ---- */

static bool
mkdirs(const char *dir, des_error *err)
{
	char	   *tmp = strdup(dir);
	size_t		len;

	if (tmp == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	len = strlen(tmp);
	for (size_t i = 1; i <= len; i++)
	{
		if (tmp[i] == '/' || tmp[i] == '\0')
		{
			char		c = tmp[i];

			tmp[i] = '\0';
			if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
			{
				int			e = errno;

				des_fail_errno(err, e, "could not create directory \"%s\": %s", tmp, strerror(e));
				free(tmp);
				return false;
			}
			tmp[i] = c;
		}
	}
	free(tmp);
	return true;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, slash - path);
}

static bool
fsync_dir(const char *dir, des_error *err)
{
	int			fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return des_fail_errno(err, errno, "could not open directory \"%s\": %s", dir, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL)
	{
		int			e = errno;

		close(fd);
		return des_fail_errno(err, e, "could not fsync directory \"%s\": %s", dir, strerror(e));
	}
	close(fd);
	return true;
}

char *
des_archive_stem(const char *base)
{
	size_t		len = strlen(base);
	char	   *stem;

	if (len > 4 && strcmp(base + len - 4, ".des") == 0)
		return strndup(base, len - 4);
	stem = malloc(len + 3);
	if (stem)
		sprintf(stem, "%s.d", base);
	return stem;
}

char *
des_local_default_prefix(const char *path)
{
	char	   *dir = dir_of(path);
	const char *base = strrchr(path, '/');
	const char *dslash;
	char	   *stem;
	char	   *prefix = NULL;

	if (dir == NULL)
		return NULL;
	stem = des_archive_stem(base ? base + 1 : path);
	dslash = strrchr(dir, '/');
	if (stem != NULL)
	{
		const char *dbase = dslash ? dslash + 1 : dir;

		if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0 || *dbase == '\0')
			prefix = strdup(stem);
		else
		{
			prefix = malloc(strlen(dbase) + strlen(stem) + 2);
			if (prefix)
				sprintf(prefix, "%s/%s", dbase, stem);
		}
	}
	free(stem);
	free(dir);
	return prefix;
}

/* Does key contain "<tail>/" starting at a component boundary? Returns what follows. */
static const char *
find_component_run(const char *key, size_t klen, const char *tail, size_t tlen)
{
	for (size_t i = 0; i + tlen < klen; i++)
	{
		if ((i == 0 || key[i - 1] == '/') && memcmp(key + i, tail, tlen) == 0 && key[i + tlen] == '/')
			return key + i + tlen + 1;
		/* jump to the next component */
		while (i < klen && key[i] != '/')
			i++;
	}
	return NULL;
}

char *
des_local_resolve_external(const char *archive_path, const char *key)
{
	char	   *dir = dir_of(archive_path);
	size_t		dlen;
	size_t		klen = strlen(key);
	const char *rest = NULL;
	char	   *out;
	const char *big = find_component_run(key, klen, DES_EXTERNAL_FOLDER, strlen(DES_EXTERNAL_FOLDER));
	/* the prefix part of the key: before "_bigFiles/", so the entry name never matches */
	size_t		plen = big ? (size_t) (big - key) - strlen(DES_EXTERNAL_FOLDER) - 1 : klen;

	if (dir == NULL)
		return NULL;
	dlen = strlen(dir);

	/*
	 * 1. The longest tail of the archive's directory ("c", "b/c", "a/b/c")
	 * that appears in the key's prefix as whole components: what follows is
	 * relative to the directory. This maps keys written with the directory as
	 * prefix (the reference convention), and trees copied from object storage.
	 */
	for (size_t i = 0; i < dlen && rest == NULL; i++)
	{
		if (dir[i] == '/' && i + 1 < dlen)
			rest = find_component_run(key, plen, dir + i + 1, dlen - i - 1);
	}
	if (rest == NULL && dlen > 0 && dir[0] != '/' && strcmp(dir, ".") != 0)
		rest = find_component_run(key, plen, dir, dlen);

	/* 2. Otherwise from the first "_bigFiles" component on, beside the archive. */
	if (rest == NULL && big != NULL)
		rest = key + plen;
	/* 3. Otherwise the key is relative to the directory. */
	if (rest == NULL)
		rest = key;
	out = malloc(dlen + 1 + strlen(rest) + 1);
	if (out)
		sprintf(out, "%s%s%s", dir, (dlen > 0 && dir[dlen - 1] == '/') ? "" : "/", rest);
	free(dir);
	return out;
}

static bool
resolver_open(void *ctx, const char *key, des_source *src, des_error *err)
{
	char	   *path = des_local_resolve_external((const char *) ctx, key);
	bool		ok;

	if (path == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	ok = des_local_source_open(path, src, err);
	if (!ok && err->code == DES_E_NOT_FOUND)
		des_fail(err, DES_E_NOT_FOUND, "external payload \"%s\" not found at \"%s\"", key, path);
	free(path);
	return ok;
}

static void
resolver_close(void *ctx, des_source *src)
{
	(void) ctx;
	des_local_source_close(src);
}

const des_external_resolver *
des_local_resolver(des_external_resolver *r, const char *archive_path)
{
	r->open = resolver_open;
	r->close = resolver_close;
	r->ctx = (void *) archive_path;
	return r;
}

/* ---- sink ---- */

typedef struct pending_external
{
	char	   *tmp;
	char	   *final;
} pending_external;

#ifndef WRITEBACK_CHUNK
#define WRITEBACK_CHUNK (64 * 1024 * 1024)	/* measured best on 1 GiB writes */
#endif

/*
 * Archive bytes are written by an I/O thread so that the caller's work
 * (hashing, compressing) overlaps the copy into the page cache and the
 * device writeback, which otherwise serialize on one core. The thread only
 * calls write() and sync_file_range() on buffers handed to it; it blocks
 * every signal and never calls into PostgreSQL, so it is safe inside a
 * backend. Two buffers alternate: the caller fills one while the thread
 * writes the other.
 */
#define IO_BUFFER_SIZE (8 * 1024 * 1024)

/*
 * Whole buffers go to the file through a second descriptor opened with
 * O_DIRECT, from buffers aligned for it: the copy into the page cache was
 * the largest cost of writing a large archive on ext4 (more than a third of
 * the time, against a device that takes direct writes faster than BLAKE2b
 * hashes). An archive smaller than one buffer, and the tail of every
 * archive, are written through the page cache as before; so is everything
 * on a file system that refuses O_DIRECT (tmpfs), and after any direct write
 * fails with EINVAL. fsync at commit covers both.
 */
#define IO_DIRECT_ALIGN 4096

bool		des_local_direct_io = true;
uint64_t	des_local_direct_bytes;

typedef struct io_thread
{
	pthread_t	thread;
	bool		started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned char *buf[2];
	size_t		len[2];
	int			filling;		/* buffer the caller fills */
	bool		busy;			/* the thread owns buf[1 - filling] */
	bool		stop;
	int			error;			/* errno of a failed write (sticky) */
	int			fd;
	int			direct_fd;		/* the same file opened with O_DIRECT, or -1 */
	uint64_t	written;		/* bytes written so far (thread) */
	uint64_t	flushed;		/* bytes handed to writeback (thread) */
} io_thread;

typedef struct local_sink
{
	io_thread	io;
	char	   *path;
	char	   *tmp;
	char	   *dir;
	int			fd;
	pending_external *ext;
	size_t		next;
	size_t		cap;
} local_sink;

static unsigned long tmp_counter;

static char *
temp_name_for(const char *path)
{
	char	   *t = malloc(strlen(path) + 64);

	if (t)
		sprintf(t, "%s" DES_LOCAL_TEMP_INFIX "%ld.%lu", path, (long) getpid(), ++tmp_counter);
	return t;
}

static bool
write_all(int fd, const void *buf, size_t len, const char *what, des_error *err)
{
	const unsigned char *p = buf;

	while (len > 0)
	{
		ssize_t		n = write(fd, p, len > (1U << 30) ? (1U << 30) : len);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return des_fail_errno(err, errno, "could not write \"%s\": %s", what, strerror(errno));
		}
		p += n;
		len -= n;
	}
	return true;
}

/* A whole aligned buffer at an aligned offset, by O_DIRECT: 0, or an errno (EINVAL: fall back to the page cache). */
static int
io_write_direct(io_thread *io, const unsigned char *p, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = pwrite(io->direct_fd, p, len, (off_t) io->written);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n % IO_DIRECT_ALIGN != 0)
			return EINVAL;		/* a short write off the alignment: finish through the page cache */
		p += n;
		len -= n;
		io->written += n;
		__atomic_fetch_add(&des_local_direct_bytes, (uint64_t) n, __ATOMIC_RELAXED);	/* (the I/O thread) */
	}
	return 0;
}

/* Write all of buf at the file's end, then start writeback every WRITEBACK_CHUNK bytes. */
static int
io_write(io_thread *io, const unsigned char *p, size_t len)
{
	if (io->direct_fd >= 0 && len % IO_DIRECT_ALIGN == 0 && io->written % IO_DIRECT_ALIGN == 0 &&
		((uintptr_t) p) % IO_DIRECT_ALIGN == 0)
	{
		uint64_t	before = io->written;
		int			e = io_write_direct(io, p, len);

		if (e == 0)
			return 0;
		if (e != EINVAL)
			return e;
		/* this file system (or this file) does not take direct writes: stop trying */
		close(io->direct_fd);
		io->direct_fd = -1;
		p += io->written - before;
		len -= io->written - before;
		io->flushed = io->written;	/* what went direct needs no writeback */
	}
	while (len > 0)
	{
		ssize_t		n = pwrite(io->fd, p, len > (1U << 30) ? (1U << 30) : len, (off_t) io->written);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += n;
		len -= n;
		io->written += n;
	}
#ifdef SYNC_FILE_RANGE_WRITE
	/*
	 * Start writeback without waiting, so the fsync at commit finds little
	 * left to do (as PostgreSQL's pg_flush_data). A failure here is harmless:
	 * fsync still follows.
	 */
	if (io->written - io->flushed >= WRITEBACK_CHUNK)
	{
		(void) sync_file_range(io->fd, (off_t) io->flushed, (off_t) (io->written - io->flushed),
							   SYNC_FILE_RANGE_WRITE);
		io->flushed = io->written;
	}
#endif
	return 0;
}

static void *
io_main(void *arg)
{
	io_thread  *io = arg;

	pthread_mutex_lock(&io->lock);
	for (;;)
	{
		int			b;
		int			e;

		while (!io->busy && !io->stop)
			pthread_cond_wait(&io->cond, &io->lock);
		if (!io->busy && io->stop)
			break;
		b = 1 - io->filling;
		pthread_mutex_unlock(&io->lock);
		e = io->error ? 0 : io_write(io, io->buf[b], io->len[b]);
		pthread_mutex_lock(&io->lock);
		if (e && !io->error)
			io->error = e;
		io->len[b] = 0;
		io->busy = false;
		pthread_cond_broadcast(&io->cond);
	}
	pthread_mutex_unlock(&io->lock);
	return NULL;
}

static bool
io_start(io_thread *io, int fd, int direct_fd, des_error *err)
{
	sigset_t	all,
				old;
	int			rc;

	io->fd = fd;
	io->direct_fd = direct_fd;
	if (posix_memalign((void **) &io->buf[0], IO_DIRECT_ALIGN, IO_BUFFER_SIZE) != 0)
		io->buf[0] = NULL;
	if (posix_memalign((void **) &io->buf[1], IO_DIRECT_ALIGN, IO_BUFFER_SIZE) != 0)
		io->buf[1] = NULL;
	if (!io->buf[0] || !io->buf[1])
		return des_fail(err, DES_E_NOMEM, "out of memory for write buffers");
	pthread_mutex_init(&io->lock, NULL);
	pthread_cond_init(&io->cond, NULL);
	/* the thread inherits this mask: signals stay with the backend's thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&io->thread, NULL, io_main, io);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		pthread_cond_destroy(&io->cond);
		pthread_mutex_destroy(&io->lock);
		return des_fail_errno(err, rc, "could not start the archive I/O thread: %s", strerror(rc));
	}
	io->started = true;
	return true;
}

/* Wait until the thread is idle; its sticky error, if any. */
static int
io_wait_idle(io_thread *io)
{
	int			e;

	pthread_mutex_lock(&io->lock);
	while (io->busy)
		pthread_cond_wait(&io->cond, &io->lock);
	e = io->error;
	pthread_mutex_unlock(&io->lock);
	return e;
}

/* Hand the filled buffer to the thread (after it finished the previous one). */
static int
io_handoff(io_thread *io)
{
	int			e;

	pthread_mutex_lock(&io->lock);
	while (io->busy)
		pthread_cond_wait(&io->cond, &io->lock);
	e = io->error;
	if (!e && io->len[io->filling] > 0)
	{
		io->filling = 1 - io->filling;
		io->busy = true;
		pthread_cond_broadcast(&io->cond);
	}
	pthread_mutex_unlock(&io->lock);
	return e;
}

static void
io_stop(io_thread *io)
{
	/* the thread first (if it runs): it may be writing through both descriptors */
	if (io->started)
	{
		pthread_mutex_lock(&io->lock);
		io->stop = true;
		pthread_cond_broadcast(&io->cond);
		pthread_mutex_unlock(&io->lock);
		pthread_join(io->thread, NULL);
		pthread_cond_destroy(&io->cond);
		pthread_mutex_destroy(&io->lock);
		io->started = false;
	}
	if (io->direct_fd >= 0)
	{
		close(io->direct_fd);
		io->direct_fd = -1;
	}
	free(io->buf[0]);
	free(io->buf[1]);
	io->buf[0] = io->buf[1] = NULL;
}

static bool
sink_write(void *ctx, const void *buf, size_t len, des_error *err)
{
	local_sink *ls = ctx;
	io_thread  *io = &ls->io;
	const unsigned char *p = buf;

	while (len > 0)
	{
		size_t		room = IO_BUFFER_SIZE - io->len[io->filling];
		size_t		n = len < room ? len : room;
		int			e;

		memcpy(io->buf[io->filling] + io->len[io->filling], p, n);
		io->len[io->filling] += n;
		p += n;
		len -= n;
		if (io->len[io->filling] == IO_BUFFER_SIZE && (e = io_handoff(io)) != 0)
			return des_fail_errno(err, e, "could not write \"%s\": %s", ls->tmp, strerror(e));
	}
	return true;
}

static bool
sink_put_external(void *ctx, const char *key, const void *data, size_t len, des_error *err)
{
	local_sink *ls = ctx;
	pending_external *pe;
	char	   *final;
	char	   *dir;
	int			fd;

	if (ls->next == ls->cap)
	{
		size_t		ncap = ls->cap ? ls->cap * 2 : 8;
		pending_external *n = realloc(ls->ext, ncap * sizeof(*n));

		if (n == NULL)
			return des_fail(err, DES_E_NOMEM, "out of memory");
		ls->ext = n;
		ls->cap = ncap;
	}
	final = des_local_resolve_external(ls->path, key);
	if (final == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	dir = dir_of(final);
	if (dir == NULL || !mkdirs(dir, err))
	{
		if (dir == NULL)
			des_fail(err, DES_E_NOMEM, "out of memory");
		free(dir);
		free(final);
		return false;
	}
	free(dir);
	pe = &ls->ext[ls->next];
	pe->final = final;
	pe->tmp = temp_name_for(final);
	if (pe->tmp == NULL)
	{
		free(final);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	fd = open(pe->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
	{
		des_fail_errno(err, errno, "could not create \"%s\": %s", pe->tmp, strerror(errno));
		free(pe->tmp);
		free(final);
		return false;
	}
	ls->next++;					/* from here on abort removes the temp file */
	if (!write_all(fd, data, len, pe->tmp, err))
	{
		close(fd);
		return false;
	}
	if (fsync(fd) != 0)
	{
		des_fail_errno(err, errno, "could not fsync \"%s\": %s", pe->tmp, strerror(errno));
		close(fd);
		return false;
	}
	if (close(fd) != 0)
		return des_fail_errno(err, errno, "could not close \"%s\": %s", pe->tmp, strerror(errno));
	return true;
}

static bool
sink_commit(void *ctx, des_error *err)
{
	local_sink *ls = ctx;
	int			e;

	if ((e = io_handoff(&ls->io)) != 0 || (e = io_wait_idle(&ls->io)) != 0)
		return des_fail_errno(err, e, "could not write \"%s\": %s", ls->tmp, strerror(e));
	io_stop(&ls->io);
	if (fsync(ls->fd) != 0)
		return des_fail_errno(err, errno, "could not fsync \"%s\": %s", ls->tmp, strerror(errno));
	if (close(ls->fd) != 0)
	{
		ls->fd = -1;
		return des_fail_errno(err, errno, "could not close \"%s\": %s", ls->tmp, strerror(errno));
	}
	ls->fd = -1;
	/* externals first: a visible archive never points at a missing payload */
	for (size_t i = 0; i < ls->next; i++)
	{
		char	   *dir;

		if (rename(ls->ext[i].tmp, ls->ext[i].final) != 0)
			return des_fail_errno(err, errno, "could not rename \"%s\" to \"%s\": %s",
								  ls->ext[i].tmp, ls->ext[i].final, strerror(errno));
		free(ls->ext[i].tmp);
		ls->ext[i].tmp = NULL;
		dir = dir_of(ls->ext[i].final);
		if (dir == NULL || !fsync_dir(dir, err))
		{
			free(dir);
			return dir ? false : des_fail(err, DES_E_NOMEM, "out of memory");
		}
		free(dir);
	}
	if (rename(ls->tmp, ls->path) != 0)
		return des_fail_errno(err, errno, "could not rename \"%s\" to \"%s\": %s",
							  ls->tmp, ls->path, strerror(errno));
	free(ls->tmp);
	ls->tmp = NULL;
	return fsync_dir(ls->dir, err);
}

static void
sink_abort(void *ctx)
{
	local_sink *ls = ctx;

	io_stop(&ls->io);
	if (ls->fd >= 0)
	{
		close(ls->fd);
		ls->fd = -1;
	}
	if (ls->tmp)
	{
		unlink(ls->tmp);
		free(ls->tmp);
		ls->tmp = NULL;
	}
	for (size_t i = 0; i < ls->next; i++)
	{
		if (ls->ext[i].tmp)
		{
			unlink(ls->ext[i].tmp);
			free(ls->ext[i].tmp);
			ls->ext[i].tmp = NULL;
		}
	}
}

void
des_local_sink_free(des_sink *sink)
{
	local_sink *ls = sink->ctx;

	if (ls == NULL)
		return;
	sink_abort(ls);				/* no-op after a successful commit */
	for (size_t i = 0; i < ls->next; i++)
		free(ls->ext[i].final);
	free(ls->ext);
	free(ls->path);
	free(ls->dir);
	free(ls);
	sink->ctx = NULL;
}

bool
des_local_sink_open(const char *path, des_sink *sink, des_error *err)
{
	local_sink *ls = calloc(1, sizeof(*ls));
	struct stat st;
	int			direct_fd;

	memset(sink, 0, sizeof(*sink));
	if (ls == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	ls->fd = -1;
	ls->io.direct_fd = -1;
	ls->path = strdup(path);
	ls->dir = dir_of(path);
	ls->tmp = temp_name_for(path);
	sink->ctx = ls;
	if (!ls->path || !ls->dir || !ls->tmp)
	{
		des_local_sink_free(sink);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
	{
		des_local_sink_free(sink);
		return des_fail(err, DES_E_INVALID_ARGUMENT, "\"%s\" exists and is not a regular file", path);
	}
	if (!mkdirs(ls->dir, err))
	{
		des_local_sink_free(sink);
		return false;
	}
	ls->fd = open(ls->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (ls->fd < 0)
	{
		des_fail_errno(err, errno, "could not create \"%s\": %s", ls->tmp, strerror(errno));
		free(ls->tmp);
		ls->tmp = NULL;
		des_local_sink_free(sink);
		return false;
	}
	/* (-1 where O_DIRECT is refused: everything goes through the page cache) */
	direct_fd = des_local_direct_io ? open(ls->tmp, O_WRONLY | O_DIRECT | O_CLOEXEC) : -1;
	if (!io_start(&ls->io, ls->fd, direct_fd, err))
	{
		des_local_sink_free(sink);
		return false;
	}
	sink->write = sink_write;
	sink->commit = sink_commit;
	sink->abort = sink_abort;
	sink->put_external = sink_put_external;
	return true;
}
