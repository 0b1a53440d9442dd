/*
 * The ring signalling protocol (components/ring/src/signal.rs) on one FWP's
 * tx ring pair, between the FWP and the multiplexer. Every step is one the
 * Rust code takes, named after the function that takes it.
 * docs/ring-model.md explains the model, its bounds and what it leaves
 * out; ci/ring-model.sh runs the checks.
 *
 *   FWP (tenant-net RingDevice, fwp-rt)     mux (components/mux, mux PD)
 *   OUT:  producer ── frames ─────────────▶ consumer ──▶ driver (DBUFS buffers)
 *   DONE: consumer ◀── buffers back ─────── producer
 *
 * This is the pair a tenant writes to: the mux consumes what a tenant
 * produced, and produces into a ring whose read index a tenant writes. The
 * rx pair runs the same functions with the roles swapped.
 *
 * Built with -DHOSTILE, a second FWP runs no code of ours: it writes
 * anything into its ring region and signals the mux, and the honest FWP's
 * traffic must still get through.
 *
 * Switches, each a variant the checks must catch or clear:
 *   BROKEN_RECHECK             ready_to_sleep without its re-check (the
 *                              Rust build's cfg ring_broken_recheck)
 *   BROKEN_TAKE_BEFORE_COMMIT  the mux takes the FWP's wake request before
 *                              it publishes the returned buffers
 *   BROKEN_TENANT_IDLE         Multiplexer::tenant_idle as it was before
 *                              2026-12-03: it ran the re-check on an FWP
 *                              it had torn down, so the mux spun for ever
 *                              on that FWP's broken ring
 *                              (docs/ring-model.md, "Findings")
 */

#ifndef SIZE
#define SIZE 4      /* RING_BUFFER_SIZE (512 in the code) */
#endif
#define CAP (SIZE - 1)  /* one entry stays empty, so that full and empty differ */
/* The honest FWP's tx buffers (its BufferPool) and the frames it sends:
 * more frames than buffers, so buffers come back and are reused. Smaller
 * next to a hostile FWP, whose states multiply the honest one's. */
#ifdef HOSTILE
#define DEFAULT_BUFS 1
#define DEFAULT_FRAMES 2
#else
#define DEFAULT_BUFS 2
#define DEFAULT_FRAMES 3
#endif
#ifndef BUFS
#define BUFS DEFAULT_BUFS
#endif
#ifndef FRAMES
#define FRAMES DEFAULT_FRAMES
#endif
#ifndef DBUFS
#define DBUFS 1     /* driver tx buffers: one, so an FWP must wait for them (tx_waiting) */
#endif
#ifndef WRITES
#define WRITES 2    /* index writes the hostile FWP makes: two can move an index backwards */
#endif
#ifndef SIGNALS
#define SIGNALS 1   /* signals the hostile FWP sends (the driver's returns wake the mux too) */
#endif

#define HONEST 0
#ifdef HOSTILE
#define NT 2        /* FWP 1 is hostile */
#else
#define NT 1
#endif
#define DRIVER NT   /* the driver's bit in the mux's notification word */

/* Rings: OUT(t) FWP t produces, DONE(t) the mux produces. */
#define OUT(t) (2 * (t))
#define DONE(t) (2 * (t) + 1)
#define NR (2 * NT)

/* Descriptors: BAD is a buffer outside the FWP's tx region (Region::check
 * refuses it); 1..BUFS are buffers of the region (for the honest FWP, the
 * number of its buffer). NONE is "ring empty". */
#define BAD 0
#define NONE 255

/* What a RawRingBuffer holds. The indices are u32 in the code, wrapping,
 * and used only through RingBuffer::residue (mod 512, which divides 2^32):
 * two indices with the same residue behave alike, so the model keeps
 * indices mod SIZE, wrapping included. */
byte widx[NR];
byte ridx[NR];
byte desc[NR * SIZE];
/* The wake flag kept after each ring (pd-ring's WAKE_FLAG_OFFSET), set by
 * the ring's consumer: "notify me after you next publish". */
bit flag[NR];

/* seL4 notifications: a word per PD, a bit per sender. A signal ORs its bit
 * in; a wait blocks until the word is non-zero, then takes and clears it
 * all, so signals sent before the wait coalesce into one wake-up. */
byte mux_word;
bit fwp_word[NT];

/* An FWP the mux tore down is suspended once the handler's apply() ran. */
bool suspended[NT];

/* Driver tx buffers in the driver's hands, and returned but not yet
 * reclaimed. The driver's rings run the same functions and are abstracted
 * here: it signals on every return. */
byte inflight;
byte returned;

/* Ghosts for the properties. */
bool mux_busy;      /* inside its notified() handler */
bool honest_done;   /* the honest FWP sent every frame and has every buffer back */

/* Residue of the difference of two indices: RingBuffer::residue(a - b).
 * Never more than CAP, so `capacity - filled` cannot underflow. */
#define FILLED(w, r) (((w) + SIZE - (r)) % SIZE)
#define SLOT(ring, i) ((ring) * SIZE + (i))

/* The hostile FWP (FWP 1, with -DHOSTILE) runs no code of ours: it writes
 * anything into its ring region, at any time. What the mux reads there is
 * modelled at the read, which keeps the state space small:
 *  - an index: up to WRITES times in all, the FWP may have moved it to any
 *    value just before the mux reads it. Only the value at each read
 *    matters and it stays until the next write, so a write just before a
 *    read stands for a write at any time before it. Values go up to
 *    SIZE - 1, which stands for every u32 (see widx);
 *  - a descriptor: any, at every read (a superset of what writes leave);
 *  - its wake flags: not at all. The mux reads them only to decide whether
 *    to notify that FWP.
 * For the same reason the mux's own writes into that region (its indices,
 * the descriptors it returns, the flags) are left out: only the FWP reads
 * them, and it ignores them. Its signals are the Hostile process's. */
#ifdef HOSTILE
#define OURS(ring) ((ring) / 2 != 1)
byte writes = WRITES;
#define HOSTILE_WRITE(ring, var)                                        \
    if                                                                  \
    :: !OURS(ring) && writes > 0 ->                                     \
        writes--; select(obs : 0 .. SIZE - 1); var = obs                \
    :: skip                                                             \
    fi
#define READ_DESC(ring, d, sr)                                          \
    if                                                                  \
    :: OURS(ring) -> d = desc[SLOT(ring, sr)]                           \
    :: else -> if :: d = BAD :: d = 1 fi                                \
    fi
#else
#define OURS(ring) true
#define HOSTILE_WRITE(ring, var) skip
#define READ_DESC(ring, d, sr) d = desc[SLOT(ring, sr)]
#endif
/* A write into the shared region that someone reads. */
#define WRITE(ring, stmt) if :: OURS(ring) -> stmt :: else -> skip fi

/* RingBuffer::update_stored_write_index (read role): the consumer reads the
 * peer's write index and refuses one that claims fewer descriptors than it
 * already saw. ok = false is PeerMisbehaviorError. One shared read. */
inline observe_write(ring, sw, sr, ok, obs) {
    atomic {
        HOSTILE_WRITE(ring, widx[ring]);
        obs = widx[ring];
        if
        :: FILLED(obs, sr) < FILLED(sw, sr) -> ok = false
        :: else -> sw = obs; ok = true; assert(FILLED(sw, sr) <= CAP)
        fi;
        obs = 0
    }
}

/* Consumer::dequeue (pd-ring ReadEnd over RingBuffer::dequeue): d = NONE
 * when empty; ok = false on misbehaviour. Reads the index, then the slot,
 * then publishes the read index: each shared access is a step. */
inline dequeue(ring, sw, sr, d, ok, obs) {
    observe_write(ring, sw, sr, ok, obs);
    if
    :: ok && FILLED(sw, sr) > 0 ->
        assert(FILLED(sw, sr) <= CAP);
        READ_DESC(ring, d, sr);
        sr = (sr + 1) % SIZE;
        WRITE(ring, ridx[ring] = sr)    /* expose_read_index */
    :: else -> d = NONE
    fi
}

/* Producer::enqueue (RingBuffer::enqueue_without_committing): is_full
 * reads the peer's read index and refuses one that claims more consumed
 * than was published; res: 0 written, 1 full, 2 misbehaviour. */
inline enqueue(ring, sw, sr, d, res, obs) {
    atomic {
        HOSTILE_WRITE(ring, ridx[ring]);
        obs = ridx[ring];
        if
        :: FILLED(sw, obs) > FILLED(sw, sr) -> res = 2
        :: else ->
            sr = obs;
            assert(FILLED(sw, sr) <= CAP);
            res = (FILLED(sw, sr) == CAP -> 1 : 0)
        fi;
        obs = 0
    }
    if
    :: res == 0 ->
        WRITE(ring, desc[SLOT(ring, sw)] = d);
        sw = (sw + 1) % SIZE
    :: else -> skip
    fi
}

/* Producer::commit: a release store of the write index. */
#define commit(ring, sw) WRITE(ring, widx[ring] = sw)

/* Producer::take_wake_request: fence, then swap(flag, 0). The fence is
 * what lets this sequentially consistent model stand for the code
 * (docs/ring-model.md); the loom test checks that part. */
inline take_wake(ring, woke) {
    WRITE(ring, atomic { woke = flag[ring]; flag[ring] = 0 })
}

/* signal::ready_to_sleep over one ring: request_wake (flag = 1, fence),
 * then the re-check has_pending (a misbehaving peer counts as pending),
 * cancel_wake when something is there. idle = true: may sleep. */
inline ready_to_sleep(ring, sw, sr, idle, ok, obs) {
    WRITE(ring, flag[ring] = 1);
#ifdef BROKEN_RECHECK
    idle = true
#else
    observe_write(ring, sw, sr, ok, obs);
    if
    :: !ok || FILLED(sw, sr) > 0 -> WRITE(ring, flag[ring] = 0); idle = false
    :: else -> idle = true
    fi;
    ok = false
#endif
}

/* The honest FWP: tenant-net's RingDevice under fwp-rt's serve_batch,
 * answering FRAMES frames through BUFS tx buffers. The frames to answer are
 * on its rx ring from the start (that ring runs the same functions the
 * other way), and smoltcp takes one only when a tx buffer is free. */
proctype Fwp(byte t) {
    byte tw, tr;            /* OUT, producer: stored write and read indices */
    byte cw, cr;            /* DONE, consumer */
    byte pool = (1 << BUFS) - 1;  /* BufferPool: bit b-1 set = buffer b is free */
    byte sent, d, res, obs, b;
    bool notify, woke, idle, ok;

    flag[DONE(t)] = 1;      /* RingDevice::new: ask for a wake before the first sleep */
    do
    :: /* serve_batch: loop { serve; take_notify (signal); ready_to_sleep } */
        do
        :: /* serve: smoltcp sends while a tx buffer is free (TxToken::consume) */
            do
            :: sent < FRAMES && pool != 0 ->
                d_step {
                    b = 1;
                    do
                    :: pool & (1 << (b - 1)) -> break
                    :: else -> b++
                    od;
                    pool = pool & ~(1 << (b - 1))
                }
                enqueue(OUT(t), tw, tr, b, res, obs);
                assert(res == 0);   /* the ring has room for every buffer it owns */
                d_step { res = 0; b = 0 }
                commit(OUT(t), tw);
                notify = true;
                sent++
            :: else -> break
            od;
            /* take_notify, then signal_mux */
            if
            :: notify ->
                notify = false;
                take_wake(OUT(t), woke);
                if
                :: woke -> woke = false; mux_word = mux_word | (1 << t)
                :: else -> skip
                fi
            :: else -> skip
            fi;
            /* RingDevice::ready_to_sleep: reclaim_tx, then signal::ready_to_sleep */
            do
            :: dequeue(DONE(t), cw, cr, d, ok, obs);
                assert(ok);     /* the honest mux never breaks the protocol */
                if
                :: d == NONE -> d = 0; break
                :: else ->
                    /* BufferPool::give_back: only a buffer we lent, once */
                    assert(d >= 1 && d <= BUFS && (pool & (1 << (d - 1))) == 0);
                    d_step { pool = pool | (1 << (d - 1)); d = 0 }
                fi
            od;
            if
            :: sent == FRAMES && pool == (1 << BUFS) - 1 -> honest_done = true
            :: else -> skip
            fi;
            if
            :: pool == 0 ->
                /* no tx buffer: only returned ones make progress */
                ready_to_sleep(DONE(t), cw, cr, idle, ok, obs)
            :: else ->
                /* ready_to_sleep([filled, done]): the frames still to
                 * answer wait on the rx ring, which has_pending sees */
                flag[DONE(t)] = 1;
#ifdef BROKEN_RECHECK
                idle = true
#else
                observe_write(DONE(t), cw, cr, ok, obs);
                if
                :: sent < FRAMES || !ok || FILLED(cw, cr) > 0 -> flag[DONE(t)] = 0; idle = false
                :: else -> idle = true
                fi;
                ok = false
#endif
            fi;
            if
            :: idle -> idle = false; break
            :: else -> skip
            fi
        od;
        /* fwp_rt::wait: asleep in seL4_Recv is a valid end state */
end_wait:
        atomic { fwp_word[t] -> fwp_word[t] = 0 }
    od
}

#ifdef HOSTILE
/* The hostile FWP's signals: SIGNALS of them, at any time until the mux
 * suspends it. Its writes are HOSTILE_WRITE's, at the mux's reads. */
byte signals = SIGNALS;
proctype Hostile(byte t) {
    /* Done, or stopped by the mux: a valid end state. */
end:
    do
    :: atomic { signals > 0 && !suspended[t] -> signals--; mux_word = mux_word | (1 << t) }
    od
}
#endif

/* The driver: returns each tx buffer it was given, in its own time, and
 * signals the mux. */
active proctype Driver() {
end:
    do
    :: atomic { inflight > 0 -> inflight--; returned++; mux_word = mux_word | (1 << DRIVER) }
    od
}

/* The mux from the notification to the ring operations: the PD handler's
 * slot_signalled loop and apply(), Multiplexer::on_tenant, take_outgoing,
 * publish, tenant_idle, and on a driver event resume_waiting. */
active proctype Mux() {
    byte ow[NT], orr[NT];   /* OUT, consumer: stored write and read indices */
    byte dw[NT], dr[NT];    /* DONE, producer */
    byte word, t, d, res, obs;
    byte dfree = DBUFS;     /* DriverLink: driver tx buffers in our hands */
    bool torn_down[NT];     /* broke the ring protocol: Draining */
    bool tx_waiting[NT];    /* Multiplexer::tx_waiting */
    bool broke, published, woke, idle, ok, again;

    /* Multiplexer::start: ask every outgoing ring for a wake */
    for (t : 0 .. NT - 1) {
        WRITE(OUT(t), flag[OUT(t)] = 1)
    }
    t = 0;
    run Fwp(HONEST);
#ifdef HOSTILE
    run Hostile(1);
#endif

/* take_outgoing(t), then publish: frames go to the driver while it has
 * buffers (can_send), each frame's buffer goes straight back on DONE; a bad
 * descriptor or ring violation tears the FWP down. */
#define TAKE_OUTGOING_AND_PUBLISH(t)                                    \
    do                                                                  \
    :: dfree == 0 -> tx_waiting[t] = true; break                        \
    :: else ->                                                          \
        dequeue(OUT(t), ow[t], orr[t], d, ok, obs);                     \
        if                                                              \
        :: !ok -> broke = true; break                                   \
        :: ok && d == NONE -> break                                     \
        :: ok && d == BAD -> broke = true  /* refused; the next one */  \
        :: ok && d != NONE && d != BAD ->                               \
            enqueue(DONE(t), dw[t], dr[t], d, res, obs);                \
            if                                                          \
            :: res != 0 -> broke = true; break                          \
            :: else -> published = true;                                \
                atomic { dfree--; inflight++ }  /* DriverLink::send */  \
            fi                                                          \
        fi                                                              \
    od;                                                                 \
    atomic { d = 0; ok = false; res = 0 }                               \
    if                                                                  \
    :: broke ->                                                         \
        assert(t != HONEST);    /* an honest FWP is never torn down */  \
        d_step { broke = false; tx_waiting[t] = false; torn_down[t] = true } \
        FORGET(t)                                                       \
    :: else -> skip                                                     \
    fi;                                                                 \
    if                                                                  \
    :: published -> published = false; PUBLISH_DONE(t)                 \
    :: else -> skip                                                     \
    fi

#ifdef BROKEN_TAKE_BEFORE_COMMIT
#define PUBLISH_DONE(t) take_wake(DONE(t), woke); commit(DONE(t), dw[t]); NOTIFY_FWP(t)
#else
#define PUBLISH_DONE(t) commit(DONE(t), dw[t]); take_wake(DONE(t), woke); NOTIFY_FWP(t)
#endif
#define NOTIFY_FWP(t) if :: woke -> woke = false; fwp_word[t] = 1 :: else -> skip fi

/* Multiplexer::tenant_idle: an FWP waiting for driver buffers is idle, its
 * wake request withdrawn (resume_waiting looks at its ring when buffers
 * come back); otherwise signal::ready_to_sleep on its ring. */
#ifndef BROKEN_TENANT_IDLE
#define TORN_DOWN_IS_IDLE(t) :: torn_down[t] -> idle = true
#else
#define TORN_DOWN_IS_IDLE(t)
#endif
/* With the fix the mux never reads a torn-down FWP's ring again, so the
 * model forgets what it held and stops its signals (the mux would ignore
 * them): states that differ only there merge. */
#if !defined(BROKEN_TENANT_IDLE) && defined(HOSTILE)
#define FORGET(t)                                                       \
    ; d_step {                                                          \
        ow[t] = 0; orr[t] = 0; dw[t] = 0; dr[t] = 0;                    \
        widx[OUT(t)] = 0; ridx[DONE(t)] = 0; writes = 0; signals = 0    \
    }
#else
#define FORGET(t)
#endif
#define TENANT_IDLE(t)                                                  \
    if                                                                  \
    TORN_DOWN_IS_IDLE(t)                                                \
    :: else ->                                                          \
        if                                                              \
        :: tx_waiting[t] -> WRITE(OUT(t), flag[OUT(t)] = 0); idle = true \
        :: else -> ready_to_sleep(OUT(t), ow[t], orr[t], idle, ok, obs) \
        fi                                                              \
    fi

/* resume_waiting for FWP t:
 * loop { take_outgoing; if waiting { break } if tenant_idle { break } } */
#define RESUME(t)                                                       \
    tx_waiting[t] = false;                                              \
    do                                                                  \
    :: TAKE_OUTGOING_AND_PUBLISH(t);                                    \
        if                                                              \
        :: tx_waiting[t] -> break                                       \
        :: else -> TENANT_IDLE(t);                                      \
            if                                                          \
            :: idle -> idle = false; break                              \
            :: else -> skip                                             \
            fi                                                          \
        fi                                                              \
    od

/* The PD's slot_signalled for FWP t: loop { on_tenant; if tenant_idle
 * { break } }, where on_tenant leaves a waiting FWP's frames for the
 * driver event. */
#define SLOT_SIGNALLED(t)                                               \
    do                                                                  \
    :: if                                                               \
        :: !tx_waiting[t] -> TAKE_OUTGOING_AND_PUBLISH(t)               \
        :: else -> skip                                                 \
        fi;                                                             \
        TENANT_IDLE(t);                                                 \
        if                                                              \
        :: idle -> idle = false; break                                  \
        :: else -> skip                                                 \
        fi                                                              \
    od

    /* Microkit's event loop; asleep in seL4_Recv is a valid end state */
end_wait:
    do
    :: atomic { mux_word != 0 -> word = mux_word; mux_word = 0; mux_busy = true };
        /* on_driver: reclaim_tx; if buffers came back, resume_waiting */
        if
        :: word & (1 << DRIVER) ->
            atomic { again = (returned > 0); dfree = dfree + returned; returned = 0 };
            if
            :: again ->
                again = false;
                for (t : 0 .. NT - 1) {
                    if
                    :: tx_waiting[t] && dfree > 0 -> RESUME(t)
                    :: else -> skip
                    fi
                }
            :: else -> skip
            fi
        :: else -> skip
        fi;
        /* slot_signalled for each FWP that signalled and is still Active */
        for (t : 0 .. NT - 1) {
            if
            :: (word & (1 << t)) && !torn_down[t] -> SLOT_SIGNALLED(t)
            :: else -> skip
            fi
        }
        /* apply(): a torn-down FWP is suspended (Children::reset) */
        for (t : 0 .. NT - 1) {
            suspended[t] = torn_down[t]
        }
        atomic { t = 0; word = 0; mux_busy = false }
    od
}

/* When nothing can move, the honest FWP's traffic must be through: a lost
 * wake-up leaves every process asleep with frames or buffers on a ring. */
active proctype Watchdog() {
end:
    timeout -> assert(honest_done)
}

/* Liveness, under weak fairness (pan -a -f): the honest FWP's traffic
 * gets through, and the mux's handler always returns to wait. */
ltl live { <> honest_done && [] <> !mux_busy }
