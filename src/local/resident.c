/* resident.c - a warm pool's resident Python client (a "zygote"): a Python process that has
 * imported the pyspark Connect client stack once and forks one fresh child per warm attempt,
 * so an attempt does not pay Python's and pyspark's start (about a second). Three parts:
 *
 * - the glue that must be Python (resident_glue below), run by the session's supervisor as
 *   `python -c GLUE SOCK PYTHON SUPERVISOR_PID` with its output in the session's resident.log;
 * - its life in the supervisor (spok_local_resident_init/tick/end): started with the session,
 *   restarted (with a backoff) when it dies, ended with the session;
 * - the attempt's process (spok_local_resident_client, `spok _warm-client SOCK -- ARGV`): a
 *   child of spok like any attempt, so the log, timeout, abort, server-gone watch and settle
 *   work unchanged. It hands its argv, environment, directory, umask and fds 0/1/2 to the
 *   resident client, which answers with the forked child's pid; it forwards TERM, INT, HUP and
 *   QUIT to the child's process group and ends as the child ended (exit status, or the same
 *   signal). Whatever fails before the child may run (no socket, refused, a bad or late
 *   answer) makes it exec ARGV itself: a warm run never fails because of the resident client.
 *
 * The protocol on the Unix socket (in the session's 0700 directory; each side checks the
 * other's uid with SO_PEERCRED): the client sends "SPR1" + a u32 body length with fds 0, 1, 2
 * (SCM_RIGHTS), then the body, NUL-separated fields: "1", cwd, umask, argc, argv..., envc,
 * env... The resident client answers "R <why>\n" (refused: the client execs ARGV) or, having
 * forked the child (which waits), "P <pid>\n"; the client answers "G" (go: from here on it never
 * execs ARGV, so the job cannot run twice) and the child is released. Once the child is reaped
 * (and what was left of its process group KILLed) the client gets "S <wait status>\n". EOF
 * from the client (it was KILLed) KILLs the child's group; the resident client's end KILLs
 * the child (PR_SET_PDEATHSIG) and the client fails the attempt. The token travels only in
 * the environment sent over the socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "local/local.h"
#include "local/token.h"

#define HANDSHAKE_S 10               /* the resident client's answer to a request, at most */
#define BACKOFF_MIN_MS 1000          /* a resident client that died is restarted after this, */
#define BACKOFF_MAX_MS 60000         /* doubling up to this while it keeps dying young */
#define REPLY_MAX 512
#define DRAIN_MS 5000                /* the session's end waits this long for runs in progress */

extern char **environ;

/* The glue that must be Python: the resident client. It imports what a warm job's client
 * imports (no gRPC channel: grpc is not fork-safe once it has one), then serves requests.
 * A child becomes `python ARGV` of the request: its environment (PYTHONPATH entries on
 * sys.path as Python puts them, PYTHONUNBUFFERED, PYTHONDONTWRITEBYTECODE), directory, umask,
 * sys.argv, sys.orig_argv, sys.path[0], a fresh __main__, std streams made as Python makes
 * them on the received fds, a reseeded numpy generator; an uncaught exception is reported by
 * sys.excepthook without the glue's frame and exits 1, SystemExit and atexit work as in
 * Python (the child ends through the interpreter's own exit). A request whose run would not
 * start the same is refused: another python, an option other than -c, a different value of a
 * variable that takes effect when Python or the preloaded libraries start (PYTHON*, locale,
 * TZ, HOME, LD_*, thread and allocator settings, SPARK_CONNECT_LOG_LEVEL), or a directory on
 * the run's path that would shadow a module it preloaded. */
static const char *const resident_glue[] = {
	"import sys\n"
	"_boot = {m.split('.')[0] for m in sys.modules}\n"
	"import os, ctypes, signal\n"
	"_libc = ctypes.CDLL(None, use_errno=True)\n"
	"_libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: it ends with its supervisor\n"
	"_sock_path, _python, _parent = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
	"if os.getppid() != _parent:\n"
	"    sys.exit(0)\n"
	"_base = sys.path[1:] if sys.path[:1] == [''] else sys.path[:]\n"
	"import array, atexit, builtins, gc, importlib, importlib.machinery, io, linecache, logging\n"
	"import selectors, socket, struct, time, types\n"
	"# what a warm job's client imports: paid once here, not per run (no gRPC channel yet)\n"
	"from pyspark.sql import SparkSession\n"
	"from pyspark.sql.connect.session import SparkSession as _CS\n"
	"import pyspark.sql.connect.dataframe, pyspark.sql.connect.functions\n"
	"import grpc._channel, grpc._plugin_wrapping  # what the first channel imports\n"
	"_preloaded = {m.split('.')[0] for m in sys.modules} - _boot - set(sys.builtin_module_names)\n"
	"_own = dict(os.environb)\n"
	"_enc = [(s.encoding, s.errors) for s in (sys.stdin, sys.stdout, sys.stderr)]\n"
	"_zpid = os.getpid()\n"
	"_DYNAMIC = (b'PYTHONPATH', b'PYTHONUNBUFFERED', b'PYTHONDONTWRITEBYTECODE')\n"
	"_FIXED = (b'PYTHON', b'LC_', b'LANG', b'TZ', b'HOME', b'LD_', b'MALLOC_', b'OMP_', b'OPENBLAS_',\n"
	"          b'MKL_', b'NUMEXPR_', b'NPY_', b'ARROW_', b'PYARROW_', b'GRPC_', b'PANDAS_',\n"
	"          b'SPARK_CONNECT_LOG_LEVEL')\n"
	"\n"
	"\n"
	"def _fixed(k):\n"
	"    # what takes effect when Python or the preloaded libraries start: must be the same\n"
	"    if k in _DYNAMIC:\n"
	"        return False\n"
	"    return k.startswith(_FIXED) or (k == b'PATH' and '/' not in _python)\n"
	"\n"
	"\n"
	"def _names(d):\n"
	"    # the top-level modules a directory (or a zip, as zipimport reads it) on sys.path offers\n"
	"    if d and os.path.isfile(d):\n"
	"        try:\n"
	"            import zipfile\n"
	"            with zipfile.ZipFile(d) as z:\n"
	"                entries = {n.split('/')[0] for n in z.namelist()}\n"
	"        except Exception:  # not one it can read: python itself decides\n"
	"            return set(_preloaded)\n"
	"    else:\n"
	"        try:\n"
	"            entries = os.listdir(d or '.')\n"
	"        except OSError:\n"
	"            return set()\n"
	"    out = set()\n"
	"    for e in entries:\n"
	"        if e.endswith('.py'):\n"
	"            out.add(e[:-3])\n"
	"        elif e.endswith('.so') or '.' not in e:\n"
	"            out.add(e.split('.')[0])\n"
	"    return out\n"
	"\n"
	"\n"
	"class _Req:\n"
	"    pass\n"
	"\n"
	"\n"
	"def _parse(body):\n"
	"    f = body.split(b'\\0')\n"
	"    if len(f) < 5 or f[0] != b'1':\n"
	"        raise ValueError('bad request')\n"
	"    r = _Req()\n"
	"    r.cwd, r.umask = os.fsdecode(f[1]), int(f[2])\n"
	"    n = int(f[3])\n"
	"    r.argv = [os.fsdecode(a) for a in f[4:4 + n]]\n"
	"    m = int(f[4 + n])\n"
	"    r.env = f[5 + n:5 + n + m]\n"
	"    if len(r.argv) != n or len(r.env) != m or n < 2:\n"
	"        raise ValueError('bad request')\n"
	"    env = {}\n"
	"    for e in r.env:\n"
	"        k, eq, v = e.partition(b'=')\n"
	"        if eq and k:\n"
	"            env.setdefault(k, v)\n"
	"    r.env = env\n"
	"    if r.argv[0] != _python:\n"
	"        return r, 'it runs %s, the resident client %s' % (r.argv[0], _python)\n"
	"    if r.argv[1] == '-c':\n"
	"        if n < 3:\n"
	"            return r, 'python -c without code'\n"
	"        r.code, r.main = r.argv[2], None\n"
	"    elif r.argv[1].startswith('-') or r.argv[1].endswith('.pyc'):\n"
	"        return r, 'python %s: an option or file the resident client does not run' % r.argv[1]\n"
	"    else:\n"
	"        r.code, r.main = None, os.path.join(r.cwd, r.argv[1])\n"
	"        if not os.path.isfile(r.main):\n"
	"            return r, '%s is no file' % r.argv[1]\n"
	"    if not os.path.isdir(r.cwd):\n"
	"        return r, 'no directory %s' % r.cwd\n"
	"    for k in set(env) | set(_own):\n"
	"        if _fixed(k) and env.get(k) != _own.get(k):\n"
	"            return r, 'its environment sets %s unlike the resident client\\'s' % os.fsdecode(k)\n"
	"    pp = os.fsdecode(env.get(b'PYTHONPATH', b''))\n"
	"    r.pp = [os.path.join(r.cwd, p) for p in pp.split(':')] if pp else []\n"
	"    if env.get(b'PYTHONSAFEPATH'):\n",

	"        r.path0 = None\n"
	"    elif r.main:\n"
	"        r.path0 = os.path.dirname(os.path.realpath(r.main))\n"
	"    else:\n"
	"        r.path0 = ''\n"
	"    for d in ([r.path0 if r.path0 else r.cwd] if r.path0 is not None else []) + r.pp:\n"
	"        hit = _names(d) & _preloaded\n"
	"        if hit:\n"
	"            return r, '%s/%s would shadow a module it preloaded' % (d, sorted(hit)[0])\n"
	"    return r, None\n"
	"\n"
	"\n"
	"def _stream(fd, write, name, enc, errors, buffered):\n"
	"    # as Python makes sys.stdin/stdout/stderr (create_stdio)\n"
	"    buf = io.open(fd, 'wb' if write else 'rb', 0 if write and not buffered else -1, closefd=False)\n"
	"    raw = buf if isinstance(buf, io.FileIO) else buf.raw\n"
	"    raw.name = name\n"
	"    s = io.TextIOWrapper(buf, enc, errors, '\\n', buffered and (raw.isatty() or fd == 2),\n"
	"                         not buffered)\n"
	"    s.mode = 'w' if write else 'r'\n"
	"    return s\n"
	"\n"
	"\n"
	"def _become(r, fds):\n"
	"    # the child: a fresh `python ARGV` of the run's environment, directory and streams\n"
	"    for i, fd in enumerate(fds):\n"
	"        os.dup2(fd, i)\n"
	"    for fd in fds:\n"
	"        if fd > 2:\n"
	"            os.close(fd)\n"
	"    os.chdir(r.cwd)\n"
	"    os.umask(r.umask)\n"
	"    os.environ.clear()\n"
	"    for k, v in r.env.items():\n"
	"        os.environb[k] = v\n"
	"    sys.argv = ['-c'] + r.argv[3:] if r.code is not None else r.argv[1:]\n"
	"    sys.orig_argv = list(r.argv)\n"
	"    seen, path = set(), []\n"
	"    for p in r.pp + _base:\n"
	"        p = os.path.abspath(p)\n"
	"        if os.path.normcase(p) not in seen:\n"
	"            seen.add(os.path.normcase(p))\n"
	"            path.append(p)\n"
	"    sys.path[:] = ([] if r.path0 is None else [r.path0]) + path\n"
	"    sys.path_importer_cache.clear()\n"
	"    importlib.invalidate_caches()\n"
	"    linecache.clearcache()\n"
	"    sys.dont_write_bytecode = bool(r.env.get(b'PYTHONDONTWRITEBYTECODE'))\n"
	"    buffered = not r.env.get(b'PYTHONUNBUFFERED')\n"
	"    old = (sys.stdout, sys.stderr)\n"
	"    sys.stdin = sys.__stdin__ = _stream(0, False, '<stdin>', _enc[0][0], _enc[0][1], buffered)\n"
	"    sys.stdout = sys.__stdout__ = _stream(1, True, '<stdout>', _enc[1][0], _enc[1][1], buffered)\n"
	"    sys.stderr = sys.__stderr__ = _stream(2, True, '<stderr>', _enc[2][0], 'backslashreplace', buffered)\n"
	"    for ref in logging._handlerList:\n"
	"        h = ref()\n"
	"        if isinstance(h, logging.StreamHandler) and h.stream in old:\n"
	"            h.stream = sys.stdout if h.stream is old[0] else sys.stderr\n"
	"    if 'numpy.random' in sys.modules:  # its global generator, seeded at import\n"
	"        sys.modules['numpy.random'].seed()\n"
	"    if 'tempfile' in sys.modules:\n"
	"        sys.modules['tempfile'].tempdir = None\n"
	"\n"
	"\n",

	"def _run(r):\n"
	"    m = types.ModuleType('__main__')\n"
	"    m.__builtins__ = builtins\n"
	"    if r.code is not None:\n"
	"        m.__loader__ = importlib.machinery.BuiltinImporter\n"
	"        src, name = r.code, '<string>'\n"
	"    else:\n"
	"        name = os.path.abspath(r.argv[1])\n"
	"        m.__file__, m.__cached__ = name, None\n"
	"        m.__loader__ = importlib.machinery.SourceFileLoader('__main__', name)\n"
	"        with open(name, 'rb') as f:\n"
	"            src = f.read()\n"
	"    sys.modules['__main__'] = m\n"
	"    try:\n"
	"        exec(compile(src, name, 'exec', dont_inherit=True), m.__dict__)\n"
	"    except SystemExit:\n"
	"        raise\n"
	"    except BaseException as e:  # as Python reports what the program did not catch\n"
	"        tb = e.__traceback__.tb_next if e.__traceback__ else None\n"
	"        sys.last_type, sys.last_value, sys.last_traceback = type(e), e, tb\n"
	"        sys.excepthook(type(e), e.with_traceback(tb), tb)\n"
	"        if isinstance(e, KeyboardInterrupt):\n"
	"            atexit._run_exitfuncs()\n"
	"            for s in (sys.stdout, sys.stderr):\n"
	"                s.flush()\n"
	"            signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
	"            os.kill(os.getpid(), signal.SIGINT)\n"
	"        sys.exit(1)\n"
	"\n"
	"\n"
	"def _close_kid(k):\n"
	"    for key in ('conn',):\n"
	"        if k.get(key):\n"
	"            k[key].close()\n"
	"            k[key] = None\n"
	"    for key in ('pidfd', 'go'):\n"
	"        if k.get(key) is not None:\n"
	"            os.close(k[key])\n"
	"            k[key] = None\n"
	"\n"
	"\n"
	"def _serve():\n"
	"    d, base = os.path.split(_sock_path)\n"
	"    os.chdir(d)  # a long data dir: sun_path holds 108 bytes\n"
	"    try:\n"
	"        os.unlink(base)\n"
	"    except FileNotFoundError:\n"
	"        pass\n"
	"    lsn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
	"    lsn.bind(base)\n"
	"    os.chmod(base, 0o600)\n"
	"    lsn.listen(64)\n"
	"    os.chdir('/')\n"
	"    sel = selectors.DefaultSelector()\n"
	"    sel.register(lsn, selectors.EVENT_READ, ('listen', 0))\n"
	"    kids = {}\n"
	"    gc.freeze()  # the preloaded objects stay shared with the children\n"
	"    print('spok: resident client %d ready on %s' % (_zpid, _sock_path), flush=True)\n"
	"    while True:\n"
	"        for key, _ in sel.select(1.0):\n"
	"            kind, pid = key.data\n"
	"            try:  # one request's trouble must not end the runs of the others\n"
	"                if kind == 'listen':\n"
	"                    got = _accept(lsn, sel, kids)\n"
	"                    if got:\n"
	"                        return got\n"
	"                elif kind == 'conn':\n"
	"                    _on_conn(sel, kids, pid)\n"
	"                else:\n"
	"                    _on_exit(sel, kids, pid)\n"
	"            except Exception as e:\n"
	"                if os.getpid() != _zpid:  # a child: never back to serving\n"
	"                    os._exit(1)\n"
	"                print('spok: resident client: %s failed: %s' % (kind, type(e).__name__), flush=True)\n"
	"        if os.getppid() != _parent:\n"
	"            for pid in kids:\n"
	"                _kill(pid)\n"
	"            sys.exit(0)\n"
	"\n"
	"\n"
	"def _kill(pid):\n"
	"    try:\n"
	"        os.killpg(pid, signal.SIGKILL)\n"
	"    except OSError:\n"
	"        pass\n"
	"\n"
	"\n",

	"def _reply(conn, text):\n"
	"    try:\n"
	"        conn.sendall(text)\n"
	"        return True\n"
	"    except OSError:\n"
	"        return False\n"
	"\n"
	"\n"
	"def _refuse(conn, fds, why):\n"
	"    for fd in fds:\n"
	"        os.close(fd)\n"
	"    _reply(conn, b'R ' + why.encode('utf-8', 'replace').replace(b'\\n', b' ')[:400] + b'\\n')\n"
	"    conn.close()\n"
	"    return None\n"
	"\n"
	"\n"
	"def _left(until):  # one deadline for a whole request: a peer dripping bytes holds no one\n"
	"    t = until - time.monotonic()\n"
	"    if t <= 0:\n"
	"        raise ValueError('too slow')\n"
	"    return t\n"
	"\n"
	"\n"
	"def _accept(lsn, sel, kids):\n"
	"    try:\n"
	"        conn, _ = lsn.accept()\n"
	"    except OSError:\n"
	"        return None\n"
	"    fds = []\n"
	"    until = time.monotonic() + 5\n"
	"    try:\n"
	"        conn.settimeout(_left(until))\n"
	"        uid = struct.unpack('3i', conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]\n"
	"        if uid != os.getuid():\n"
	"            raise ValueError('another user')\n"
	"        msg, anc, _, _ = conn.recvmsg(8, socket.CMSG_SPACE(3 * 4), socket.MSG_CMSG_CLOEXEC)\n"
	"        for level, kind, data in anc:\n"
	"            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:\n"
	"                fds += array.array('i', data[:len(data) - len(data) % 4])\n"
	"        while 0 < len(msg) < 8:\n"
	"            conn.settimeout(_left(until))\n"
	"            more = conn.recv(8 - len(msg))\n"
	"            if not more:\n"
	"                break\n"
	"            msg += more\n"
	"        if len(msg) != 8 or msg[:4] != b'SPR1' or len(fds) != 3:\n"
	"            raise ValueError('bad request')\n"
	"        n = struct.unpack('=I', msg[4:])[0]\n"
	"        if n > 8 << 20:\n"
	"            raise ValueError('bad request')\n"
	"        body = bytearray()\n"
	"        while len(body) < n:\n"
	"            conn.settimeout(_left(until))\n"
	"            more = conn.recv(min(n - len(body), 1 << 16))\n"
	"            if not more:\n"
	"                raise ValueError('bad request')\n"
	"            body += more\n"
	"        r, why = _parse(bytes(body))\n"
	"    except (OSError, ValueError, struct.error, IndexError) as e:\n"
	"        for fd in fds:\n"
	"            os.close(fd)\n"
	"        conn.close()\n"
	"        print('spok: resident client: a request failed: %s' % type(e).__name__, flush=True)\n"
	"        return None\n"
	"    if why:\n"
	"        return _refuse(conn, fds, why)\n"
	"    # a failure before the child has its go is a refusal: the stub starts python itself\n"
	"    try:\n"
	"        go_r, go_w = os.pipe()\n"
	"    except OSError as e:\n"
	"        return _refuse(conn, fds, 'cannot make a pipe: %s' % e.strerror)\n"
	"    try:\n"
	"        pid = os.fork()\n"
	"    except OSError as e:\n"
	"        os.close(go_r)\n"
	"        os.close(go_w)\n"
	"        return _refuse(conn, fds, 'cannot fork: %s' % e.strerror)\n"
	"    if pid == 0:\n"
	"        try:  # the child never goes back to serving, whatever fails here\n"
	"            _libc.prctl(1, signal.SIGKILL, 0, 0, 0)\n"
	"            if os.getppid() != _zpid:\n"
	"                os._exit(1)\n"
	"            try:\n"
	"                os.setpgid(0, 0)\n"
	"            except OSError:\n"
	"                pass\n"
	"            os.close(go_w)\n"
	"            conn.close()\n"
	"            lsn.close()\n"
	"            sel.close()\n"
	"            for k in kids.values():\n"
	"                _close_kid(k)\n"
	"            _become(r, fds)\n"
	"            go = os.read(go_r, 1)\n"
	"            os.close(go_r)\n"
	"        except BaseException:\n"
	"            os._exit(1)\n"
	"        if go != b'g':\n"
	"            os._exit(1)\n"
	"        return r\n"
	"    os.close(go_r)\n"
	"    for fd in fds:\n"
	"        os.close(fd)\n"
	"    try:\n"
	"        os.setpgid(pid, pid)\n"
	"    except OSError:\n"
	"        pass\n"
	"    try:\n"
	"        pidfd = os.pidfd_open(pid)\n"
	"    except OSError as e:\n"
	"        _kill(pid)\n"
	"        os.waitpid(pid, 0)\n"
	"        os.close(go_w)\n"
	"        return _refuse(conn, [], 'cannot follow the run: %s' % e.strerror)\n"
	"    kids[pid] = k = {'conn': conn, 'go': go_w, 'pidfd': pidfd}\n"
	"    sel.register(k['pidfd'], selectors.EVENT_READ, ('exit', pid))\n"
	"    if _reply(conn, b'P %d\\n' % pid):\n"
	"        sel.register(conn, selectors.EVENT_READ, ('conn', pid))\n"
	"    else:\n"
	"        _kill(pid)\n"
	"        conn.close()\n"
	"        k['conn'] = None\n"
	"    return None\n"
	"\n"
	"\n",

	"def _on_conn(sel, kids, pid):\n"
	"    k = kids.get(pid)\n"
	"    if k is None or k['conn'] is None:  # its exit was handled first in this batch\n"
	"        return\n"
	"    try:\n"
	"        data = k['conn'].recv(64)\n"
	"    except OSError:\n"
	"        data = b''\n"
	"    if data and b'G' in data and k['go'] is not None:  # the client's go: the job runs\n"
	"        try:\n"
	"            os.write(k['go'], b'g')\n"
	"        except OSError:  # the child died first: its exit event tells the client\n"
	"            pass\n"
	"        os.close(k['go'])\n"
	"        k['go'] = None\n"
	"    elif not data:  # the client is gone (killed): nothing of its job may run on\n"
	"        _kill(pid)\n"
	"        sel.unregister(k['conn'])\n"
	"        k['conn'].close()\n"
	"        k['conn'] = None\n"
	"\n"
	"\n"
	"def _on_exit(sel, kids, pid):\n"
	"    k = kids.pop(pid, None)\n"
	"    if k is None:\n"
	"        return\n"
	"    _kill(pid)  # what is left of its process group\n"
	"    try:\n"
	"        _, status = os.waitpid(pid, 0)\n"
	"    except ChildProcessError:\n"
	"        status = 1 << 8\n"
	"    sel.unregister(k['pidfd'])\n"
	"    if k['conn']:\n"
	"        sel.unregister(k['conn'])\n"
	"        _reply(k['conn'], b'S %d\\n' % status)\n"
	"    _close_kid(k)\n"
	"\n"
	"\n"
	"_run(_serve())\n",
	NULL
};

char *spok_local_resident_sock(const char *data_dir, const char *session)
{
	char *dir = spok_session_dir(data_dir, session), *sock = xasprintf("%s/resident.sock", dir);

	free(dir);
	return sock;
}

/* ---- the attempt's process: spok _warm-client SOCK -- ARGV ---- */

static const int fwd_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
#define NFWD (sizeof(fwd_signals) / sizeof(fwd_signals[0]))
static volatile sig_atomic_t fwd_got[NFWD];

static void on_fwd(int sig)
{
	for (size_t i = 0; i < NFWD; i++)
		if (fwd_signals[i] == sig)
			fwd_got[i] = 1;
}

/* ARGV itself, with the signals as spok left them (one that came meanwhile acts now). */
static void __attribute__((noreturn)) exec_argv(char **argv, const sigset_t *mask, const char *why)
{
	if (why)
		fprintf(stderr, "spok: resident client: %s; starting %s itself\n", why, argv[0]);
	for (size_t i = 0; i < NFWD; i++)
		signal(fwd_signals[i], SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(argv[0], argv);
	fprintf(stderr, "spok: %s: cannot start: %s; run scripts/setup python or set SPARK_HOME\n",
		argv[0], strerror(errno));
	_exit(127);
}

/* A connected socket to path (a long one through /proc/self/fd: sun_path holds 108 bytes),
 * whose peer runs as this user; -1 when there is none. */
static int connect_to(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int dir = -1, fd = -1;

	if (strlen(path) < sizeof(a.sun_path)) {
		memcpy(a.sun_path, path, strlen(path) + 1);
	} else {
		const char *slash = strrchr(path, '/');
		char *d = slash ? xstrndup(path, (size_t)(slash - path)) : NULL;
		dir = d ? open(d, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
		free(d);
		if (dir < 0 || (size_t)snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dir,
						slash + 1) >= sizeof(a.sun_path)) {
			if (dir >= 0)
				close(dir);
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct ucred peer;
	socklen_t len = sizeof(peer);
	struct timeval tv = {.tv_sec = HANDSHAKE_S};
	if (fd >= 0 && (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
			getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.uid != geteuid() ||
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)) {
		close(fd);
		fd = -1;
	}
	if (dir >= 0)
		close(dir);
	return fd;
}

static void field(struct spok_buf *b, const char *s)
{
	spok_buf_append(b, s, strlen(s) + 1);
}

/* The request: header and fds 0, 1, 2 in one message, then the body. */
static int send_request(int fd, char **argv)
{
	struct spok_buf b;
	char cwd[4096];
	size_t n = 0;
	mode_t mask = umask(0);

	umask(mask);
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	spok_buf_init(&b, 0);
	field(&b, "1");
	field(&b, cwd);
	spok_buf_printf(&b, "%u", (unsigned)mask);
	spok_buf_append(&b, "", 1);
	for (n = 0; argv[n]; n++)
		;
	spok_buf_printf(&b, "%zu", n);
	spok_buf_append(&b, "", 1);
	for (size_t i = 0; i < n; i++)
		field(&b, argv[i]);
	for (n = 0; environ && environ[n]; n++)
		;
	spok_buf_printf(&b, "%zu", n);
	spok_buf_append(&b, "", 1);
	for (size_t i = 0; i < n; i++)
		field(&b, environ[i]);

	char hdr[8];
	uint32_t len = (uint32_t)b.len;
	int fds[3] = {0, 1, 2};
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(fds))];
	} ctl;
	struct iovec iov = {.iov_base = hdr, .iov_len = sizeof(hdr)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space,
			   .msg_controllen = sizeof(ctl.space)};
	memset(&ctl, 0, sizeof(ctl));
	static const char magic[4] = {'S', 'P', 'R', '1'};
	memcpy(hdr, magic, sizeof(magic));
	memcpy(hdr + 4, &len, 4);
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(h), fds, sizeof(fds));
	int result = sendmsg(fd, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(hdr) ? 0 : -1;
	for (size_t off = 0; result == 0 && off < b.len;) {
		ssize_t w = send(fd, b.data + off, b.len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			result = -1;
		else
			off += (size_t)w;
	}
	explicit_bzero(b.data, b.len); /* the environment holds the session's token */
	spok_buf_free(&b);
	return result;
}

struct reply {
	char buf[REPLY_MAX];
	size_t len;
};

/* One "X <text>\n" line of the answer into line (NUL-terminated): 1; EOF or an error: 0. */
static int read_line(int fd, struct reply *r, char *line)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		if (nl) {
			size_t n = (size_t)(nl - r->buf);
			memcpy(line, r->buf, n);
			line[n] = '\0';
			r->len -= n + 1;
			memmove(r->buf, nl + 1, r->len);
			return 1;
		}
		if (r->len == sizeof(r->buf))
			return 0;
		ssize_t got = recv(fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
		r->len += (size_t)got;
	}
}

/* The number of a "<tag> <number>" line of the answer: true when the whole line is that. */
static bool tagged(const char *line, char tag, long *out)
{
	char *end = NULL;

	if (line[0] != tag || line[1] != ' ' || line[2] < '-' || line[2] > '9')
		return false;
	errno = 0;
	*out = strtol(line + 2, &end, 10);
	return errno == 0 && end != line + 2 && *end == '\0';
}

/* As the child ended: its exit status, or the same signal (without a core of this process). */
static int end_as(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (!WIFSIGNALED(status))
		return 1;
	int sig = WTERMSIG(status);
	struct rlimit none = {0, 0};
	sigset_t one;
	setrlimit(RLIMIT_CORE, &none);
	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	return 128 + sig;
}

/* After the go: forward the signals to the child's group until its status comes. */
static int follow(int fd, long pid, struct reply *r, const sigset_t *mask)
{
	char line[REPLY_MAX];

	for (;;) {
		for (size_t i = 0; i < NFWD; i++)
			if (fwd_got[i]) {
				fwd_got[i] = 0;
				if (kill((pid_t)-pid, fwd_signals[i]) != 0)
					kill((pid_t)pid, fwd_signals[i]);
			}
		if (!memchr(r->buf, '\n', r->len)) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (ppoll(&p, 1, NULL, mask) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
		}
		if (!read_line(fd, r, line))
			break;
		long status = 0;
		if (tagged(line, 'S', &status) && status >= 0 && status <= 0xffff) {
			close(fd);
			return end_as((int)status);
		}
	}
	close(fd);
	/* the resident client ended: its child was KILLed with it (PR_SET_PDEATHSIG) */
	kill((pid_t)-pid, SIGKILL);
	fprintf(stderr, "spok: the resident Python client ended while the job ran (pid %ld), and the "
		"job with it; retry the run, or run it with --cold\n", pid);
	return 1;
}

int spok_local_resident_client(int argc, char **argv)
{
	sigset_t block, mask;
	struct sigaction sa;

	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: spok _warm-client SOCKET -- PYTHON ARGS... (spok runs it)\n");
		return 2;
	}
	char **py = argv + 3;
	/* held until the child runs (then forwarded) or ARGV is exec'd (then they act) */
	sigemptyset(&block);
	for (size_t i = 0; i < NFWD; i++)
		sigaddset(&block, fwd_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &mask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fwd;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFWD; i++)
		sigaction(fwd_signals[i], &sa, NULL);

	int fd = connect_to(argv[1]);
	if (fd < 0)
		exec_argv(py, &mask, NULL); /* none (yet): the session is starting, or a Kubernetes pool */
	struct reply r = {.len = 0};
	char line[REPLY_MAX];
	long pid = 0;
	if (send_request(fd, py) != 0 || !read_line(fd, &r, line)) {
		close(fd);
		exec_argv(py, &mask, "no answer");
	}
	if (line[0] == 'R' && line[1] == ' ') {
		close(fd);
		exec_argv(py, &mask, line + 2);
	}
	if (!tagged(line, 'P', &pid) || pid <= 1 || pid > INT32_MAX || send(fd, "G", 1, MSG_NOSIGNAL) != 1) {
		close(fd); /* its child never got the go: the resident client KILLs it */
		exec_argv(py, &mask, "a bad answer");
	}
	return follow(fd, pid, &r, &mask);
}

/* ---- its life in the session's supervisor ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void spok_local_resident_init(struct spok_local_resident *z, const char *session_dir,
			      const char *python, const char *marker)
{
	const char *py = python ? python : "python3";

	memset(z, 0, sizeof(*z));
	z->sock = xasprintf("%s/resident.sock", session_dir);
	z->log = xasprintf("%s/resident.log", session_dir);
	spok_strv_push(&z->argv, py);
	spok_strv_push(&z->argv, "-c");
	struct spok_buf glue; /* in parts: C17 compilers need not take a longer literal */
	spok_buf_init(&glue, 0);
	for (size_t i = 0; resident_glue[i]; i++)
		spok_buf_appends(&glue, resident_glue[i]);
	spok_strv_push_own(&z->argv, spok_buf_detach(&glue));
	spok_strv_push(&z->argv, z->sock);
	spok_strv_push(&z->argv, py);
	spok_strv_pushf(&z->argv, "%ld", (long)getpid());
	for (char **e = environ; e && *e; e++)
		/* nothing of a run (a session started from inside one), no secret, and its own path:
		 * each child gets the run's environment and PYTHONPATH */
		if (strncmp(*e, "PYTHONPATH=", 11) != 0 && strncmp(*e, "SPARK_REMOTE=", 13) != 0 &&
		    strncmp(*e, "SPARK_CONNECT_MODE_ENABLED=", 27) != 0 &&
		    strncmp(*e, "SPARK_CONNECT_AUTHENTICATE_TOKEN=", 33) != 0 &&
		    strncmp(*e, "SPOK_EXECUTION_ID=", 18) != 0 && strncmp(*e, "SPOK_SESSION_SERVER=", 20) != 0 &&
		    strncmp(*e, "SPOK_WARM_ARTIFACTS=", 20) != 0)
			spok_strv_push(&z->envv, *e);
	if (marker) /* a reader settling the session ends it with the server */
		spok_strv_push(&z->envv, marker);
	z->enabled = true;
}

static void start(struct spok_local_resident *z)
{
	int log = open(z->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	z->started_ms = mono_ms();
	if (log >= 0 && null >= 0) {
		pid_t pid = fork();
		if (pid == 0) { /* async-signal-safe calls only until the exec */
			sigset_t none;
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			signal(SIGPIPE, SIG_DFL);
			setsid(); /* its own group: the session's end or a settle KILLs it alone */
			dup2(null, 0);
			dup2(log, 1);
			dup2(log, 2);
			execvpe(z->argv.items[0], z->argv.items, z->envv.items);
			_exit(127);
		}
		z->pid = pid > 0 ? pid : 0;
	}
	if (log >= 0)
		close(log);
	if (null >= 0)
		close(null);
	if (z->pid <= 0)
		z->due_ms = z->started_ms + BACKOFF_MAX_MS;
}

void spok_local_resident_tick(struct spok_local_resident *z)
{
	int status;

	if (!z->enabled)
		return;
	if (z->pid > 0) {
		pid_t got = waitpid((pid_t)z->pid, &status, WNOHANG);
		if (got == 0 || (got < 0 && errno == EINTR))
			return;
		/* it ended (a crash, an OOM kill): runs exec python meanwhile; started again soon,
		 * later and later while it keeps dying young */
		uint64_t now = mono_ms();
		z->pid = 0;
		z->backoff_ms = now - z->started_ms > BACKOFF_MAX_MS || z->backoff_ms == 0 ? BACKOFF_MIN_MS
			: z->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : z->backoff_ms * 2;
		z->due_ms = now + z->backoff_ms;
		return;
	}
	if (mono_ms() >= z->due_ms)
		start(z);
}

/* Whether the resident client has children (runs), from /proc (none known: false). */
static bool has_children(int64_t pid)
{
	char path[64], buf[64];
	snprintf(path, sizeof(path), "/proc/%lld/task/%lld/children", (long long)pid, (long long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0;
}

void spok_local_resident_end(struct spok_local_resident *z, bool remove_sock)
{
	if (z->pid > 0) {
		/* Runs in progress end first as their attempts decide: the server is gone, and each
		 * attempt's own watch stops its client within a poll (TERM, forwarded by the stub),
		 * so the run records why (the server ended), not that its client was KILLed with the
		 * resident client (PR_SET_PDEATHSIG: what is left dies with it). */
		for (unsigned w = 0; w < DRAIN_MS && has_children(z->pid); w += 100) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
			nanosleep(&ts, NULL);
		}
		kill((pid_t)z->pid, SIGKILL);
		while (waitpid((pid_t)z->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (z->sock && remove_sock)
		unlink(z->sock);
	free(z->sock);
	free(z->log);
	spok_strv_free(&z->argv);
	spok_strv_free(&z->envv);
	memset(z, 0, sizeof(*z));
}
