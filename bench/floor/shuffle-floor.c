// The kernel's floor for moving shuffle bytes on this machine: the least CPU a local-file shuffle and a
// co-located remote shuffle can spend per GiB, with no record generation, framing, checksums, runtime or
// allocation, only the system calls each design cannot avoid, in 1 MiB calls.
//
//   local:  a writer pwrites BYTES to one file (sync_file_range after each write, fdatasync at the end, as
//           the grid's silos do), the page cache is dropped, a reader preads the file back.
//   remote: a pusher sends BYTES over loopback TCP to a server (the silo), which recvs and pwrites them
//           (and with --replicas 2 also sends each chunk to a replica server, which recvs and pwrites it);
//           the page cache is dropped; the server preads the file and sends it to a reader, which recvs it.
//
// Every process is a real process on real sockets and files; CPU is user + system seconds from wait4.
// Build and run: scripts/shuffle-floor.sh (gcc -O2). Usage:
//   shuffle-floor local|remote [--bytes N] [--replicas 1|2] [--dir DIR] [--port P]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static long long total_bytes = 1LL << 30;
static int replicas = 1;
static const char *dir = "/tmp";
static int port = 47811;
static char *buffer;

static void die(const char *what) {
  fprintf(stderr, "shuffle-floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double cpu_seconds(const struct rusage *u) {
  return u->ru_utime.tv_sec + u->ru_utime.tv_usec / 1e6 + u->ru_stime.tv_sec + u->ru_stime.tv_usec / 1e6;
}

static double self_cpu(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return cpu_seconds(&u);
}

static void path_of(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", dir, name); }

static int open_data(const char *name, int flags) {
  char path[4096];
  path_of(path, sizeof path, name);
  int fd = open(path, flags, 0600);
  if (fd < 0) die(path);
  return fd;
}

static void write_all_at(int fd, const char *data, size_t length, off_t offset) {
  while (length > 0) {
    ssize_t n = pwrite(fd, data, length, offset);
    if (n < 0) { if (errno == EINTR) continue; die("pwrite"); }
    data += n; length -= (size_t)n; offset += n;
  }
}

static void send_all(int socket_fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t n = send(socket_fd, data, length, 0);
    if (n < 0) { if (errno == EINTR) continue; die("send"); }
    data += n; length -= (size_t)n;
  }
}

// Fills the buffer with up to `length` bytes; returns how many (less only at end of stream).
static size_t recv_full(int socket_fd, char *data, size_t length) {
  size_t got = 0;
  while (got < length) {
    ssize_t n = recv(socket_fd, data + got, length - got, 0);
    if (n < 0) { if (errno == EINTR) continue; die("recv"); }
    if (n == 0) break;
    got += (size_t)n;
  }
  return got;
}

static int listen_on(int p) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 4) < 0) die("listen");
  return fd;
}

static int connect_to(int p) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  // Bounded: the listener is started before anyone connects to it; 200 tries of 10 ms cover a slow fork.
  for (int attempt = 0; attempt < 200; attempt++) {
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    usleep(10000);
  }
  die("connect");
  return -1;
}

static int accept_one(int listener) {
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) die("accept");
  return fd;
}

// recv a stream into a file, a chunk per pwrite, starting writeback after each write as the silo does.
static long long receive_into(int socket_fd, int file_fd, int forward_fd) {
  long long offset = 0;
  size_t n;
  while ((n = recv_full(socket_fd, buffer, CHUNK)) > 0) {
    if (forward_fd >= 0) send_all(forward_fd, buffer, n);
    write_all_at(file_fd, buffer, n, offset);
    sync_file_range(file_fd, offset, (off_t)n, SYNC_FILE_RANGE_WRITE);
    offset += (long long)n;
  }
  if (fdatasync(file_fd) < 0) die("fdatasync");
  return offset;
}

static void read_out(int file_fd, int socket_fd) {
  for (long long offset = 0; offset < total_bytes;) {
    ssize_t n = pread(file_fd, buffer, CHUNK, offset);
    if (n < 0) { if (errno == EINTR) continue; die("pread"); }
    if (n == 0) break;
    if (socket_fd >= 0) send_all(socket_fd, buffer, (size_t)n);
    offset += n;
  }
}

static int drop_caches(void) {
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0) return 0;
  int ok = write(fd, "3", 1) == 1;
  close(fd);
  return ok;
}

static pid_t spawn(void (*body)(void *), void *argument) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) { body(argument); _exit(0); }
  return pid;
}

static double reap(pid_t pid, const char *role) {
  int status;
  struct rusage u;
  if (wait4(pid, &status, 0, &u) < 0) die("wait4");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "shuffle-floor: %s failed\n", role); exit(1); }
  double seconds = cpu_seconds(&u);
  printf("cpu %-14s %7.3f s  %6.3f s/GiB\n", role, seconds, seconds / ((double)total_bytes / (1 << 30)));
  return seconds;
}

// ---- local ----
static void local_writer(void *unused) {
  (void)unused;
  int fd = open_data("floor-local.data", O_CREAT | O_TRUNC | O_WRONLY);
  for (long long offset = 0; offset < total_bytes; offset += CHUNK) {
    write_all_at(fd, buffer, CHUNK, offset);
    sync_file_range(fd, offset, CHUNK, SYNC_FILE_RANGE_WRITE);
  }
  if (fdatasync(fd) < 0) die("fdatasync");
}

static void local_reader(void *unused) {
  (void)unused;
  read_out(open_data("floor-local.data", O_RDONLY), -1);
}

// ---- remote ----
struct stage_pipes { int committed[2]; int fetch[2]; };

static void replica_server(void *unused) {
  (void)unused;
  int listener = listen_on(port + 1);
  int from_primary = accept_one(listener);
  receive_into(from_primary, open_data("floor-replica.data", O_CREAT | O_TRUNC | O_WRONLY), -1);
}

static void primary_server(void *argument) {
  struct stage_pipes *p = argument;
  int listener = listen_on(port);
  int forward = replicas > 1 ? connect_to(port + 1) : -1;
  int pusher = accept_one(listener);
  int fd = open_data("floor-primary.data", O_CREAT | O_TRUNC | O_RDWR);
  receive_into(pusher, fd, forward);
  if (forward >= 0) close(forward);
  double push_cpu = self_cpu();
  printf("cpu %-14s %7.3f s  (push stage)\n", "server", push_cpu);
  fflush(stdout);
  char token = 'c';
  if (write(p->committed[1], &token, 1) != 1) die("write committed");
  if (read(p->fetch[0], &token, 1) != 1) die("read fetch");
  int reader = accept_one(listener);
  read_out(fd, reader);
  close(reader);
  printf("cpu %-14s %7.3f s  (fetch stage)\n", "server", self_cpu() - push_cpu);
  fflush(stdout);
}

static void pusher(void *unused) {
  (void)unused;
  int fd = connect_to(port);
  for (long long sent = 0; sent < total_bytes; sent += CHUNK) send_all(fd, buffer, CHUNK);
  close(fd);
}

static void reader(void *unused) {
  (void)unused;
  int fd = connect_to(port);
  long long got = 0;
  size_t n;
  while ((n = recv_full(fd, buffer, CHUNK)) > 0) got += (long long)n;
  if (got != total_bytes) { fprintf(stderr, "shuffle-floor: reader got %lld of %lld bytes\n", got, total_bytes); exit(1); }
}

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "local") && strcmp(argv[1], "remote"))) {
    fprintf(stderr, "usage: shuffle-floor local|remote [--bytes N] [--replicas 1|2] [--dir DIR] [--port P]\n");
    return 2;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--bytes")) total_bytes = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--replicas")) replicas = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else { fprintf(stderr, "shuffle-floor: unknown option %s\n", argv[i]); return 2; }
  }
  if (total_bytes < CHUNK || total_bytes % CHUNK != 0 || replicas < 1 || replicas > 2 || port < 1024 || port > 65000) {
    fprintf(stderr, "shuffle-floor: --bytes must be a multiple of 1 MiB, --replicas 1 or 2, --port 1024..65000\n");
    return 2;
  }
  buffer = malloc(CHUNK);
  if (!buffer) die("malloc");
  // Bytes that do not compress and are not all zero pages, though nothing here compresses.
  for (int i = 0; i < CHUNK; i++) buffer[i] = (char)(i * 2654435761u >> 13);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("mode=%s bytes=%lld replicas=%d dir=%s chunk=%d\n", argv[1], total_bytes, replicas, dir, CHUNK);
  double total = 0;
  int dropped;
  if (!strcmp(argv[1], "local")) {
    total += reap(spawn(local_writer, NULL), "writer");
    dropped = drop_caches();
    total += reap(spawn(local_reader, NULL), "reader");
  } else {
    struct stage_pipes p;
    if (pipe(p.committed) < 0 || pipe(p.fetch) < 0) die("pipe");
    pid_t replica = replicas > 1 ? spawn(replica_server, NULL) : -1;
    if (replicas > 1) usleep(50000);
    pid_t server = spawn(primary_server, &p);
    total += reap(spawn(pusher, NULL), "pusher");
    char token;
    if (read(p.committed[0], &token, 1) != 1) die("read committed");
    if (replica > 0) total += reap(replica, "replica-server");
    dropped = drop_caches();
    if (write(p.fetch[1], &token, 1) != 1) die("write fetch");
    total += reap(spawn(reader, NULL), "reader");
    total += reap(server, "server");
  }
  printf("cacheDropped=%d\n", dropped);
  printf("cpu %-14s %7.3f s  %6.3f s/GiB\n", "total", total, total / ((double)total_bytes / (1 << 30)));
  char path[4096];
  const char *names[] = {"floor-local.data", "floor-primary.data", "floor-replica.data"};
  for (int i = 0; i < 3; i++) { path_of(path, sizeof path, names[i]); unlink(path); }
  return 0;
}
