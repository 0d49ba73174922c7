/* SPDX-License-Identifier: MIT */
/*
 * Queues: a ring of void * items with wait queues of getters, putters and
 * joiners, as asyncio.Queue with Python 3.13's shutdown.
 *
 * Items move by hand-over, never by a woken task coming back for them: a
 * put with a getter waiting gives the item to that getter, and a get that
 * frees a slot of a full queue moves the first waiting putter's item into
 * it. Hence getters wait only while the ring is empty and putters only while
 * it is full, the order of items is the order of the puts that were
 * accepted, and a picked waiter's call has succeeded before it even runs, so
 * neither an item nor a slot is lost to a waiter cancelled at that moment;
 * a waiter that leaves by itself was never counted anywhere.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Slots allocated at first, and at least on growing. */
#define QUEUE_MIN_ALLOC 16u

struct co_queue {
        void **ring;
        size_t alloc;           /* slots in ring */
        size_t head;            /* index of the oldest item */
        size_t n;               /* items in ring */
        size_t capacity;        /* 0: unbounded */
        size_t unfinished;      /* put and not yet marked done */
        bool shutdown;
        co__waitq_t getters;    /* nodes get the item in .value */
        co__waitq_t putters;    /* putter_t */
        co__waitq_t joiners;
        co_queue_drop_fn_t drop;
        void *drop_userdata;
};

/* A blocked put: the item rides with its wait node (on the putter's stack),
 * for the get that will move it in. */
typedef struct putter {
        co__wnode_t node;       /* first: the node is the putter */
        void *item;
} putter_t;

/* Room for one more item (the capacity already checked). */
static int ring_reserve(co_queue_t *q) {
        size_t alloc;
        void **ring;

        if (q->n < q->alloc)
                return 0;
        if (q->alloc > SIZE_MAX / 2 / sizeof *ring)
                return -ENOMEM;
        alloc = q->alloc ? 2 * q->alloc : QUEUE_MIN_ALLOC;
        if (q->capacity && alloc > q->capacity)
                alloc = q->capacity;
        ring = malloc(alloc * sizeof *ring);
        if (!ring)
                return -ENOMEM;
        /* Unwrap: the items go to the front of the new ring, oldest first. */
        for (size_t i = 0; i < q->n; i++)
                ring[i] = q->ring[(q->head + i) % q->alloc];
        free(q->ring);
        q->ring = ring;
        q->alloc = alloc;
        q->head = 0;
        return 0;
}

static void ring_push(co_queue_t *q, void *item) {
        size_t tail = q->head + q->n;

        if (tail >= q->alloc)
                tail -= q->alloc;
        q->ring[tail] = item;
        q->n++;
}

static void *ring_pop(co_queue_t *q) {
        void *item = q->ring[q->head];

        if (++q->head == q->alloc)
                q->head = 0;
        q->n--;
        return item;
}

int co_queue_new(co_queue_t **ret_queue, size_t capacity) {
        co_queue_t *q;

        if (!ret_queue)
                return -EINVAL;
        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->capacity = capacity;
        /* A small bounded queue never reallocates. */
        q->alloc = capacity && capacity < QUEUE_MIN_ALLOC ? capacity : QUEUE_MIN_ALLOC;
        q->ring = malloc(q->alloc * sizeof *q->ring);
        if (!q->ring) {
                free(q);
                return -ENOMEM;
        }
        *ret_queue = q;
        return 0;
}

int co_queue_set_drop(co_queue_t *q, co_queue_drop_fn_t fn, void *userdata) {
        if (!q)
                return -EINVAL;
        q->drop = fn;
        q->drop_userdata = userdata;
        return 0;
}

/* Empties the ring into the drop function; returns how many items went. */
static size_t drop_all(co_queue_t *q) {
        size_t n = 0;

        while (q->n > 0) {
                void *item = ring_pop(q);

                n++;
                if (q->drop)
                        q->drop(item, q->drop_userdata);
        }
        return n;
}

co_queue_t *co_queue_free(co_queue_t *q) {
        if (!q)
                return NULL;
        co__waitq_wake_all(&q->getters, -EIDRM);
        co__waitq_wake_all(&q->putters, -EIDRM);
        co__waitq_wake_all(&q->joiners, -EIDRM);
        (void) drop_all(q);
        free(q->ring);
        free(q);
        return NULL;
}

/* Accepts item without waiting: to the first waiting getter, or into the
 * ring. -EAGAIN if full. */
static int offer(co_queue_t *q, void *item) {
        co__wnode_t *getter;
        int r;

        if (q->n == 0 && (getter = co__waitq_wake_one(&q->getters, 0))) {
                getter->value = item;
                q->unfinished++;
                return 0;
        }
        if (q->capacity && q->n >= q->capacity)
                return -EAGAIN;
        r = ring_reserve(q);
        if (r < 0)
                return r;
        ring_push(q, item);
        q->unfinished++;
        return 0;
}

/* Takes the oldest item without waiting; -EAGAIN if empty. */
static int take(co_queue_t *q, void **ret_item) {
        co__wnode_t *putter;

        if (q->n == 0)
                return -EAGAIN;
        *ret_item = ring_pop(q);
        /* The slot just freed goes to the first blocked putter: its put is
         * done from here on. The ring cannot need to grow for it. */
        putter = co__waitq_wake_one(&q->putters, 0);
        if (putter) {
                ring_push(q, ((putter_t *) putter)->item);
                q->unfinished++;
        }
        return 0;
}

int co_queue_put(co_queue_t *q, void *item, co_usec_t deadline) {
        putter_t p;
        int r;

        if (!q)
                return -EINVAL;
        r = co__may_wait(co__current());
        if (r < 0)
                return r;
        if (q->shutdown)
                return -ESHUTDOWN;
        r = offer(q, item);
        if (r != -EAGAIN)
                return r;
        if (co__deadline_passed(deadline))
                return -ETIMEDOUT;
        /* On 0 a get has moved the item into the ring; on an error it is
         * still the caller's. */
        p.item = item;
        return co__waitq_wait(&q->putters, &p.node, "queue put", deadline);
}

int co_queue_try_put(co_queue_t *q, void *item) {
        if (!q)
                return -EINVAL;
        if (q->shutdown)
                return -ESHUTDOWN;
        return offer(q, item);
}

int co_queue_get(co_queue_t *q, void **ret_item, co_usec_t deadline) {
        co__wnode_t node;
        int r;

        if (!q || !ret_item)
                return -EINVAL;
        r = co__may_wait(co__current());
        if (r < 0)
                return r;
        if (take(q, ret_item) == 0)
                return 0;
        if (q->shutdown)
                return -ESHUTDOWN;
        if (co__deadline_passed(deadline))
                return -ETIMEDOUT;
        /* On 0 a put has handed its item over in the node. */
        r = co__waitq_wait(&q->getters, &node, "queue get", deadline);
        if (r < 0)
                return r;
        *ret_item = node.value;
        return 0;
}

int co_queue_try_get(co_queue_t *q, void **ret_item) {
        if (!q || !ret_item)
                return -EINVAL;
        if (take(q, ret_item) == 0)
                return 0;
        return q->shutdown ? -ESHUTDOWN : -EAGAIN;
}

size_t co_queue_get_size(const co_queue_t *q) {
        return q ? q->n : 0;
}

size_t co_queue_get_capacity(const co_queue_t *q) {
        return q ? q->capacity : 0;
}

int co_queue_shutdown(co_queue_t *q, bool immediate) {
        if (!q)
                return -EINVAL;
        q->shutdown = true;
        if (immediate) {
                size_t n = drop_all(q);

                /* Dropped items count as done, as in Python; not more than
                 * were put, should task_done have been called ahead. */
                q->unfinished = q->unfinished > n ? q->unfinished - n : 0;
                if (q->unfinished == 0)
                        co__waitq_wake_all(&q->joiners, 0);
        }
        /* Getters wait only on an empty ring, so shut down means done for
         * them in both modes; putters keep their items. */
        co__waitq_wake_all(&q->getters, -ESHUTDOWN);
        co__waitq_wake_all(&q->putters, -ESHUTDOWN);
        return 0;
}

bool co_queue_is_shutdown(const co_queue_t *q) {
        return q && q->shutdown;
}

int co_queue_task_done(co_queue_t *q) {
        if (!q)
                return -EINVAL;
        if (q->unfinished == 0)
                return -EINVAL;
        if (--q->unfinished == 0)
                co__waitq_wake_all(&q->joiners, 0);
        return 0;
}

int co_queue_join(co_queue_t *q, co_usec_t deadline) {
        co__wnode_t node;
        int r;

        if (!q)
                return -EINVAL;
        r = co__may_wait(co__current());
        if (r < 0)
                return r;
        if (q->unfinished == 0)
                return 0;
        if (co__deadline_passed(deadline))
                return -ETIMEDOUT;
        return co__waitq_wait(&q->joiners, &node, "queue join", deadline);
}
