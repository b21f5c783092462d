/* bench_serve.c - a burst of N submissions to a running `spok serve` (POST /api/v1/executions,
 * C at once over C keep-alive HTTP/1.1 connections, as a Flyte burst would) against N raw
 * creates of the same SparkApplication on the same API server (C at once, HTTP/2), in one
 * process through one libcurl multi handle each.
 *
 * Phase "spok": N task bodies (built before the clock starts; each with its own idempotency
 * key unless --no-keys) sent C at once; latency = request queued -> answer; an answer counts
 * when it is a 2xx holding an execution id. Then, untimed for the answer rate, the bench
 * polls the namespace until the N SparkApplications exist (the daemon answers before its
 * creates go out), which gives a second rate: "created" = N / (last object seen - start).
 * Phase "raw": one of those SparkApplications, stripped to what a client sends (name,
 * namespace, labels, annotations, spec), created N times under new names in a fresh
 * namespace; latency = request queued -> 201.
 * Both phases warm their connections first (C untimed requests: GET /healthz, GET of the
 * namespace), so TCP/TLS set-up is not timed. The daemon's CPU (utime + stime of
 * /proc/PID/stat over the spok phase, until the objects exist) is shown per job.
 *
 * Not a test: nothing here asserts a timing. Exit status 0 only when every submission was
 * answered with an id, every object appeared and every raw create was answered 201.
 *
 * Usage: bench_serve --url http://127.0.0.1:PORT --token TOKEN --apiserver URL --cacert F
 *                    --cert F --key F --ns NAME [-n N] [-c C] [--daemon-pid PID] [--no-keys]
 * Prints its figures, and last a line starting with "summary:".
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 100000
#define MAX_CONC 1024
#define APPS "/apis/sparkoperator.k8s.io/v1beta2/namespaces/"

struct opts {
	const char *url, *token, *apiserver, *cacert, *cert, *key, *ns;
	size_t n, conc;
	long daemon_pid;
	bool keys;
};

static struct opts o = {.n = 1000, .conc = 64, .keys = true};

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "bench_serve: %s%s\n", what, arg);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A response body. */
struct body {
	char *p;
	size_t len;
};

static size_t on_write(char *p, size_t sz, size_t n, void *data)
{
	struct body *b = data;
	char *q = realloc(b->p, b->len + sz * n + 1);

	if (q == NULL)
		return 0;
	memcpy(q + b->len, p, sz * n);
	b->len += sz * n;
	q[b->len] = '\0';
	b->p = q;
	return sz * n;
}

/* One request of a burst. */
struct req {
	CURL *h;
	size_t i;
	uint64_t t0;
	struct body out;
};

/* What a burst sends: request i's URL, body (NULL: GET) and headers. */
struct burst {
	const char *what;
	char **urls;              /* per request, or NULL: url */
	const char *url;
	char **bodies;            /* per request, or NULL: GET */
	struct curl_slist *hdrs;
	bool kube;                /* the API server: TLS client cert, HTTP/2 */
	/* results */
	double *lat_ms;           /* per request */
	long *status;
	char **answers;           /* per request: the body (heap) */
	uint64_t t_start, t_end;
};

static void req_setup(struct burst *b, struct req *r, size_t i)
{
	curl_easy_reset(r->h);
	r->i = i;
	free(r->out.p);
	r->out = (struct body){0};
	curl_easy_setopt(r->h, CURLOPT_URL, b->urls ? b->urls[i] : b->url);
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, b->hdrs);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, &r->out);
	curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_TIMEOUT, 120L);
	if (b->bodies) {
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, b->bodies[i]);
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDSIZE, (long)strlen(b->bodies[i]));
	}
	if (b->kube) {
		curl_easy_setopt(r->h, CURLOPT_CAINFO, o.cacert);
		curl_easy_setopt(r->h, CURLOPT_SSLCERT, o.cert);
		curl_easy_setopt(r->h, CURLOPT_SSLKEY, o.key);
		curl_easy_setopt(r->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
		curl_easy_setopt(r->h, CURLOPT_PIPEWAIT, 1L);
	} else {
		curl_easy_setopt(r->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	}
	r->t0 = now_ns();
}

/* Runs n requests of b, conc at once, on multi handle m (its connections stay for the next
 * burst). false when a transfer failed at the transport level. */
static bool run_burst(CURLM *m, struct burst *b, size_t n, size_t conc)
{
	struct req *rs = calloc(conc, sizeof(*rs));
	size_t next = 0, done = 0;
	bool ok = true;

	b->t_start = now_ns();
	for (size_t k = 0; k < conc && next < n; k++) {
		rs[k].h = curl_easy_init();
		req_setup(b, &rs[k], next++);
		curl_multi_add_handle(m, rs[k].h);
	}
	while (done < n) {
		int running = 0, left = 0;
		CURLMsg *msg;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct req *r = NULL;
			long st = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &st);
			if (msg->data.result != CURLE_OK) {
				fprintf(stderr, "bench_serve: %s request %zu: %s\n", b->what, r->i,
					curl_easy_strerror(msg->data.result));
				ok = false;
			}
			b->lat_ms[r->i] = (double)(now_ns() - r->t0) / 1e6;
			b->status[r->i] = st;
			b->answers[r->i] = r->out.p;
			r->out = (struct body){0};
			done++;
			curl_multi_remove_handle(m, r->h);
			if (next < n) {
				req_setup(b, r, next++);
				curl_multi_add_handle(m, r->h);
			}
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	b->t_end = now_ns();
	for (size_t k = 0; k < conc; k++) {
		if (rs[k].h)
			curl_easy_cleanup(rs[k].h);
		free(rs[k].out.p);
	}
	free(rs);
	return ok;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
	double *s = malloc(n * sizeof(*s));
	double r;

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_d);
	r = s[(size_t)(p * (double)(n - 1) + 0.5)];
	free(s);
	return r;
}

static struct burst *burst_new(const char *what, size_t n)
{
	struct burst *b = calloc(1, sizeof(*b));

	b->what = what;
	b->lat_ms = calloc(n, sizeof(double));
	b->status = calloc(n, sizeof(long));
	b->answers = calloc(n, sizeof(char *));
	return b;
}

static void burst_free(struct burst *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(b->answers[i]);
		if (b->bodies)
			free(b->bodies[i]);
		if (b->urls)
			free(b->urls[i]);
	}
	free(b->answers);
	free(b->bodies);
	free(b->urls);
	free(b->lat_ms);
	free(b->status);
	curl_slist_free_all(b->hdrs);
	free(b);
}

/* One synchronous request to the API server: status, body in *out (heap). */
static long kube_do(const char *method, const char *path, const char *body, char **out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	struct body b = {0};
	char url[1024];
	long st = 0;

	snprintf(url, sizeof(url), "%s%s", o.apiserver, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_CAINFO, o.cacert);
	curl_easy_setopt(h, CURLOPT_SSLCERT, o.cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, o.key);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_cleanup(h);
	curl_slist_free_all(hd);
	if (out)
		*out = b.p;
	else
		free(b.p);
	return st;
}

static void make_ns(const char *name)
{
	char body[256];
	long st;

	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
		 "\"metadata\":{\"name\":\"%s\"}}", name);
	st = kube_do("POST", "/api/v1/namespaces", body, NULL);
	if (st != 201 && st != 409)
		die("cannot create namespace ", name);
}

/* SparkApplications in namespace ns (one list with limit=1: remainingItemCount + 1). */
static size_t count_apps(const char *ns, json_t **first)
{
	char path[512], *out = NULL;
	json_t *j, *items;
	size_t n = 0;

	snprintf(path, sizeof(path), APPS "%s/sparkapplications?limit=1", ns);
	if (kube_do("GET", path, NULL, &out) != 200 || (j = json_loads(out, 0, NULL)) == NULL) {
		free(out);
		return 0;
	}
	items = json_object_get(j, "items");
	n = json_array_size(items);
	if (n > 0)
		n += (size_t)json_integer_value(json_object_get(json_object_get(j, "metadata"),
							     "remainingItemCount"));
	if (first && json_array_size(items) > 0)
		*first = json_incref(json_array_get(items, 0));
	json_decref(j);
	free(out);
	return n;
}

/* The daemon's spok_cluster_store_commits_total (summed over clusters), or -1 when its
 * /metrics has none (a build from before the metric). */
static double daemon_commits(void)
{
	CURL *h = curl_easy_init();
	struct body b = {0};
	char url[512];
	double sum = -1;

	snprintf(url, sizeof(url), "%s/metrics", o.url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(h) == CURLE_OK && b.p) {
		for (char *l = b.p; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			char *end = strchr(l, '\n'), *sp;

			if (end)
				*end = '\0';
			sp = strrchr(l, ' ');
			if (strncmp(l, "spok_cluster_store_commits_total{", 33) == 0 && sp)
				sum = (sum < 0 ? 0 : sum) + strtod(sp + 1, NULL);
			if (end)
				*end = '\n';
		}
	}
	free(b.p);
	curl_easy_cleanup(h);
	return sum;
}

/* utime + stime of pid, in seconds (0 when unknown). */
static double cpu_of(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* fields 14, 15 (utime, stime); p is at the end of field 2 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static char *submit_body(size_t i, const char *run)
{
	json_t *b = json_pack("{s:{s:s,s:s,s:s,s:s,s:s},s:s}", "task", "name", "bench", "project",
			      "bench", "domain", "development", "type", "python",
			      "mainApplicationFile",
			      "local:///opt/spark/examples/src/main/python/pi.py",
			      "namespace", o.ns);
	char key[96], *s;

	if (o.keys) {
		snprintf(key, sizeof(key), "bench-%s-%zu", run, i);
		json_object_set_new(b, "idempotencyKey", json_string(key));
	}
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

/* The object a client would send: the daemon's SparkApplication without server fields. */
static json_t *template_of(json_t *app)
{
	json_t *meta = json_object_get(app, "metadata"), *t = json_object();
	json_t *m = json_object();

	json_object_set(t, "apiVersion", json_object_get(app, "apiVersion"));
	json_object_set(t, "kind", json_object_get(app, "kind"));
	if (json_object_get(meta, "labels"))
		json_object_set(m, "labels", json_object_get(meta, "labels"));
	if (json_object_get(meta, "annotations"))
		json_object_set(m, "annotations", json_object_get(meta, "annotations"));
	json_object_set_new(t, "metadata", m);
	json_object_set(t, "spec", json_object_get(app, "spec"));
	return t;
}

static void report(const char *what, struct burst *b, size_t n, size_t good)
{
	double s = (double)(b->t_end - b->t_start) / 1e9;

	printf("%-5s %zu/%zu answered in %.3f s: %.1f/s, p50 %.1f ms, p99 %.1f ms\n", what, good,
	       n, s, (double)n / s, pct(b->lat_ms, n, 0.5), pct(b->lat_ms, n, 0.99));
}

static void usage(void)
{
	die("usage: bench_serve --url URL --token T --apiserver URL --cacert F --cert F "
	    "--key F --ns NAME [-n N] [-c C] [--daemon-pid PID] [--no-keys]", "");
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"url", 1, 0, 'u'}, {"token", 1, 0, 't'}, {"apiserver", 1, 0, 'a'},
		{"cacert", 1, 0, 'A'}, {"cert", 1, 0, 'C'}, {"key", 1, 0, 'K'},
		{"ns", 1, 0, 's'}, {"daemon-pid", 1, 0, 'p'}, {"no-keys", 0, 0, 'k'}, {0, 0, 0, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "n:c:", lo, NULL)) != -1) {
		switch (c) {
		case 'u': o.url = optarg; break;
		case 't': o.token = optarg; break;
		case 'a': o.apiserver = optarg; break;
		case 'A': o.cacert = optarg; break;
		case 'C': o.cert = optarg; break;
		case 'K': o.key = optarg; break;
		case 's': o.ns = optarg; break;
		case 'p': o.daemon_pid = strtol(optarg, NULL, 10); break;
		case 'k': o.keys = false; break;
		case 'n': o.n = strtoul(optarg, NULL, 10); break;
		case 'c': o.conc = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!o.url || !o.token || !o.apiserver || !o.cacert || !o.cert || !o.key || !o.ns ||
	    o.n == 0 || o.n > MAX_JOBS || o.conc == 0 || o.conc > MAX_CONC)
		usage();
}

/* The spok phase: returns answered-with-id count; *created_s: start -> all N objects seen. */
static size_t spok_phase(CURLM *m, struct burst **out, double *created_s, double *cpu_job,
			 double *commits)
{
	struct burst *b = burst_new("spok", o.n), *w = burst_new("warm-up", o.conc);
	char url[512], auth[600], run[32];
	size_t good = 0, seen = 0, shown = 0;
	double cpu0;
	uint64_t t_all;

	snprintf(run, sizeof(run), "%lx-%d", (unsigned long)time(NULL), (int)getpid());
	snprintf(url, sizeof(url), "%s/api/v1/executions", o.url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.token);
	b->url = url;
	b->hdrs = curl_slist_append(curl_slist_append(NULL, auth), "Content-Type: application/json");
	b->bodies = calloc(o.n, sizeof(char *));
	for (size_t i = 0; i < o.n; i++)
		b->bodies[i] = submit_body(i, run);
	{
		char hz[512];

		snprintf(hz, sizeof(hz), "%s/healthz", o.url);
		w->url = hz;
		run_burst(m, w, o.conc, o.conc);
		w->url = NULL;
	}
	burst_free(w, o.conc);
	*commits = daemon_commits();
	cpu0 = cpu_of(o.daemon_pid);
	if (!run_burst(m, b, o.n, o.conc))
		fprintf(stderr, "bench_serve: some submissions failed at the transport level\n");
	if (*commits >= 0) /* the burst's commits (its creates' and watch's writes come later) */
		*commits = daemon_commits() - *commits;
	for (size_t i = 0; i < o.n; i++) {
		json_t *j = b->status[i] / 100 == 2 ? json_loads(b->answers[i], 0, NULL) : NULL;
		const char *id = json_string_value(json_object_get(j, "id"));

		if (id && strncmp(id, "sp-", 3) == 0)
			good++;
		else if (shown++ < 3)
			fprintf(stderr, "bench_serve: submission %zu: HTTP %ld: %.300s\n", i,
				b->status[i], b->answers[i] ? b->answers[i] : "");
		json_decref(j);
	}
	/* the daemon answered; its creates may still be going out */
	for (int k = 0; k < 30000 && (seen = count_apps(o.ns, NULL)) < good; k++)
		usleep(20 * 1000);
	t_all = now_ns();
	*cpu_job = (cpu_of(o.daemon_pid) - cpu0) / (double)o.n * 1e3;
	*created_s = (double)(t_all - b->t_start) / 1e9;
	if (seen != good)
		fprintf(stderr, "bench_serve: %zu SparkApplications for %zu executions\n", seen, good);
	*out = b;
	return seen == good ? good : 0;
}

static size_t raw_phase(CURLM *m, struct burst **out)
{
	struct burst *b = burst_new("raw", o.n), *w = burst_new("warm-up", o.conc);
	json_t *first = NULL, *t;
	char ns[128], url[640];
	size_t good = 0, shown = 0;

	count_apps(o.ns, &first);
	if (first == NULL)
		die("no SparkApplication to copy for the raw phase", "");
	t = template_of(first);
	json_decref(first);
	snprintf(ns, sizeof(ns), "%s-raw", o.ns);
	make_ns(ns);
	json_object_set_new(json_object_get(t, "metadata"), "namespace", json_string(ns));
	snprintf(url, sizeof(url), "%s" APPS "%s/sparkapplications", o.apiserver, ns);
	b->url = url;
	b->kube = true;
	b->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	b->bodies = calloc(o.n, sizeof(char *));
	for (size_t i = 0; i < o.n; i++) {
		char name[64];

		snprintf(name, sizeof(name), "raw-%zu", i);
		json_object_set_new(json_object_get(t, "metadata"), "name", json_string(name));
		b->bodies[i] = json_dumps(t, JSON_COMPACT);
	}
	json_decref(t);
	{
		char nsurl[640];

		snprintf(nsurl, sizeof(nsurl), "%s/api/v1/namespaces/%s", o.apiserver, ns);
		w->url = nsurl;
		w->kube = true;
		run_burst(m, w, o.conc, o.conc);
		w->url = NULL;
	}
	burst_free(w, o.conc);
	if (!run_burst(m, b, o.n, o.conc))
		fprintf(stderr, "bench_serve: some raw creates failed at the transport level\n");
	for (size_t i = 0; i < o.n; i++)
		if (b->status[i] == 201)
			good++;
		else if (shown++ < 3)
			fprintf(stderr, "bench_serve: raw create %zu: HTTP %ld: %.300s\n", i,
				b->status[i], b->answers[i] ? b->answers[i] : "");
	*out = b;
	return good;
}

int main(int argc, char **argv)
{
	struct burst *sb = NULL, *rb = NULL;
	CURLM *ms, *mr;
	size_t sgood, rgood;
	double created_s = 0, cpu_job = 0, commits = -1, srate, rrate;
	char cj[32] = "n/a";
	char la[128] = "";
	FILE *f;

	parse(argc, argv);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	make_ns(o.ns);
	ms = curl_multi_init();
	curl_multi_setopt(ms, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o.conc);
	mr = curl_multi_init();
	curl_multi_setopt(mr, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(mr, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)o.conc);
	if ((f = fopen("/proc/loadavg", "r")) != NULL) {
		if (fgets(la, sizeof(la), f) == NULL)
			la[0] = '\0';
		la[strcspn(la, "\n")] = '\0';
		fclose(f);
	}
	printf("N=%zu, %zu at once, %s; load average %s\n", o.n, o.conc,
	       o.keys ? "idempotency keys" : "no keys", la);
	sgood = spok_phase(ms, &sb, &created_s, &cpu_job, &commits);
	if (commits >= 0)
		snprintf(cj, sizeof(cj), "%.3f", commits / (double)o.n);
	rgood = raw_phase(mr, &rb);
	report("spok", sb, o.n, sgood);
	printf("      store commits during the burst per submission: %s%s\n", cj,
	       commits < 0 ? " (the daemon has no spok_cluster_store_commits_total)" : "");
	printf("      all %zu SparkApplications in the API server after %.3f s: %.1f/s; daemon "
	       "CPU %.3f ms/job\n", o.n, created_s, (double)o.n / created_s, cpu_job);
	report("raw", rb, o.n, rgood);
	srate = (double)o.n / ((double)(sb->t_end - sb->t_start) / 1e9);
	rrate = (double)o.n / ((double)(rb->t_end - rb->t_start) / 1e9);
	printf("summary: N=%zu c=%zu spok answered %.0f/s (p50 %.1f p99 %.1f ms), created %.0f/s; "
	       "raw %.0f/s (p50 %.1f p99 %.1f ms); answered/raw %.2f, created/raw %.2f; daemon CPU "
	       "%.2f ms/job, commits/job %s\n", o.n,
	       o.conc, srate, pct(sb->lat_ms, o.n, 0.5), pct(sb->lat_ms, o.n, 0.99),
	       (double)o.n / created_s, rrate, pct(rb->lat_ms, o.n, 0.5), pct(rb->lat_ms, o.n, 0.99),
	       srate / rrate, (double)o.n / created_s / rrate, cpu_job, cj);
	burst_free(sb, o.n);
	burst_free(rb, o.n);
	curl_multi_cleanup(ms);
	curl_multi_cleanup(mr);
	curl_global_cleanup();
	return sgood == o.n && rgood == o.n ? 0 : 1;
}
