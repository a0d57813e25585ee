/*
 * queue.h - the one owner of NFQUEUE (libnetfilter_queue's libmnl API).
 *
 * One struct queue per queue number, read by one worker. Packets are
 * copied whole (copy range 0xffff) with NFQA_CFG_F_GSO (so checksums may
 * be unfinished: recompute after a change). Functions return 0 or a
 * negative errno.
 */
#ifndef FTPGW_QUEUE_H
#define FTPGW_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue_pkt {
	uint32_t id;             /* for the verdict */
	uint16_t hw_proto;       /* ethertype, host order */
	uint8_t hook;            /* NF_INET_* */
	uint8_t *data;           /* IP header onward, inside the queue's
	                            receive buffer, valid during the callback
	                            (copy it to change it) */
	size_t len;
};

struct queue;

/* Bind queue num; maxlen packets may wait in the kernel; fail_open lets
 * packets pass when that is full. */
int queue_open(struct queue **q, uint16_t num, uint32_t maxlen,
               bool fail_open, char *err, size_t errlen);
void queue_close(struct queue *q);       /* NULL-safe */
int queue_fd(const struct queue *q);

/* queue_recv() waits at most ms for the first packet (SO_RCVTIMEO), then
 * returns 0 with nothing done: a worker needs no poll() before it. */
int queue_set_wait(struct queue *q, unsigned ms);

/*
 * Read one datagram (blocking unless the fd is non-blocking) and call fn
 * for each packet in it. -ENOBUFS means the kernel dropped messages for
 * this socket (counted, not fatal).
 */
int queue_recv(struct queue *q,
               void (*fn)(struct queue *q, struct queue_pkt *p, void *arg),
               void *arg);

/* Verdict NF_ACCEPT or NF_DROP; data/len replaces the packet (len 0:
 * unchanged). A plain accept is deferred and sent as one batch verdict
 * when queue_recv() has handled what was waiting. */
int queue_verdict(struct queue *q, uint32_t id, int verdict,
                  const void *data, size_t len);

/* counters */
struct queue_stats {
	uint64_t packets, enobufs, verdict_errors, batches;
};
void queue_stats(const struct queue *q, struct queue_stats *s);

#endif
