/*
 * The hand-offs through an FWP's control region (components/fwp's
 * control.rs, ready_block.rs and status.rs), between the multiplexer and
 * the code a tenant supplies: its template PD and the slots that run its
 * template.
 * Every step is one the Rust code takes, named after the function that
 * takes it; docs/ring-model.md explains the model and its bounds, and
 * ci/ring-model.sh runs the checks.
 *
 *   template PD: write ready block ──▶ notify ──▶ mux: parse, stop template,
 *                                                 restore the slot (refill)
 *   slot, restore: write status {parked, g} ──▶ notify ──▶ mux: restored (Ready)
 *   slot, spawned: write status {serving, g}, frames ──▶ notify ──▶ mux: send
 *   slot, done:    write status {exit, g} ──▶ notify ──▶ mux: tear down once
 *                                                 its frames are out, scrub
 *
 * The rule each hand-off follows, the analogue of the rings' request,
 * re-check, notify: the writer completes the block, then signals; the mux
 * reads the block on every signal it gets, and checks whatever the block
 * says against its own state (the generation it started, the state the
 * slot is in). It never acts on a signal alone, which may be another
 * FWP's on a shared bit.
 *
 * Built with -DHOSTILE_FWP, the FWP turns hostile once spawned (a tenant
 * whose connection took it over): it writes anything into its status block
 * and signals at any time. Built with -DHOSTILE_TEMPLATE, the template PD
 * writes anything into its ready block and signals at any time.
 *
 * Switches, each a variant the checks must catch or clear:
 *   BROKEN_SIGNAL_FIRST  fwp-rt signals the mux before it writes the report
 *   SMP                  the FWP runs while the mux's handler does (more
 *                        than one core): the mux can tear an FWP down with
 *                        its last frames unsent
 *   FIX_EXIT_RECHECK     end_if_exited looks at the ring again after the
 *                        exit report, which closes that race
 */

#ifndef SPAWNS
#define SPAWNS 2    /* tenants served one after the other in the slot: a refill between them */
#endif
#ifndef STEPS
#define STEPS 3     /* writes or signals a hostile writer makes */
#endif
#define MAXGEN (SPAWNS + 1) /* generations a hostile FWP writes: every one the slot has, and the next */

/* What the control region holds, a word at a time: a copy of a block is a
 * memcpy, whose words land in any order, and so are the mux's reads. */
#define MAGIC 1     /* ready block magic and version (one word here) */
#define ENTRY 1     /* the template's entry point; 0 is null (BadAddress) */
byte rb_magic, rb_entry;
#define PARKED 1    /* status.rs flags */
#define EXIT 2
byte st_gen, st_flags;

/* seL4 notifications: the mux's word, a bit per sender; a wait takes and
 * clears it all, so signals coalesce. The slot's own word is a bit. */
#define TMPL 1
#define SLOT 2
#define DRV 4
#define TIMER 8
byte mux_word;
bit slot_word;

/* The slot's TCB, as the mux's seL4 calls leave it: suspended (reset), or
 * running from the registers the last start wrote (pc, x1 = generation).
 * epoch counts starts: a start abandons whatever the slot was doing. */
#define PC_PARK 1   /* restore, then fwp_park */
#define PC_SERVE 2  /* the serving entry point (a warm spawn) */
bool slot_running;
byte slot_pc, slot_gen, slot_epoch;
bool tmpl_running = true;

/* SlotPool's view of the slot (fwp/src/slot.rs). */
#define FREE 0
#define RESTORING 1
#define READY 2
#define ACTIVE 3
#define DRAINING 4
byte state = FREE;
byte gen;           /* SlotPool::generations[slot]: the last spawn's */
bool checkpoint;    /* the template's ready block was taken */
bool tx_waiting;    /* the slot's frames wait for driver buffers */

/* The driver: a packet for the template's service, and tx buffers coming
 * back (the rings' own signalling is models/ring.pml's). */
bool packet;
bool in_flight;

/* Ghosts for the properties. */
byte parked_intent = 255;   /* the generation an honest FWP is reporting parked */
byte exit_intent = 255;     /* the generation an honest FWP asked to exit in */
bool frames;                /* an honest FWP's frames are on its ring, not yet sent */
byte ended;                 /* spawns torn down */
bool mux_busy;

/* Scheduling. On the one core EdgeOS runs on, the mux (priority 200)
 * runs its handler to the end before any template or FWP (100 or less)
 * runs again; the driver and the timer (250, 254) preempt it. With -DSMP
 * they all run at once: see the "Findings" of docs/ring-model.md. */
#ifdef SMP
#define BELOW_MUX true
#else
#define BELOW_MUX !mux_busy
#endif

/* A step of the slot's code: only while its TCB runs. A start abandons
 * the code it was running (the `unless` in Slot). */
#define STEP(stmt) atomic { slot_running && BELOW_MUX -> stmt }

/* write_status: the block's words in either order. */
inline write_status(g, f) {
    if
    :: STEP(st_gen = g); STEP(st_flags = f)
    :: STEP(st_flags = f); STEP(st_gen = g)
    fi
}

/* signal_mux, after the report (before it when BROKEN_SIGNAL_FIRST). */
#ifdef BROKEN_SIGNAL_FIRST
#define REPORT(g, f) STEP(mux_word = mux_word | SLOT); write_status(g, f)
#else
#define REPORT(g, f) write_status(g, f); STEP(mux_word = mux_word | SLOT)
#endif

/* The slot: whatever the mux last started it at, until the next start. */
active proctype Slot() {
    byte e, g, pc, n, v;
end_idle:
    do
    :: atomic { slot_running && BELOW_MUX && slot_epoch != e -> e = slot_epoch; g = slot_gen; pc = slot_pc };
        {
            if
            :: pc == PC_PARK ->
                /* fwp_restore, then fwp_park: report "restored", park */
                STEP(parked_intent = g);
                REPORT(g, PARKED);
end_parked:     false
            :: pc == PC_SERVE ->
#ifdef HOSTILE_FWP
                /* taken over: any report, any signal, STEPS times */
end_hostile:    do
                :: n < STEPS ->
                    if
                    :: select(v : 0 .. MAXGEN); STEP(st_gen = v)
                    :: select(v : 0 .. 3); STEP(st_flags = v)
                    :: STEP(mux_word = mux_word | SLOT)
                    fi;
                    n++
                :: n == STEPS -> break
                od;
end_hostile_done: false
#else
                /* start_serving: report serving; serve frames; fwp_rt::exit */
                write_status(g, 0);
                STEP(frames = true);
                STEP(mux_word = mux_word | SLOT);
                STEP(exit_intent = g);
                REPORT(g, EXIT);
                /* exit's loop: every wake-up rewrites the report */
end_exited:     do
                :: atomic { slot_running && BELOW_MUX && slot_word -> slot_word = 0 }; write_status(g, EXIT)
                od
#endif
            fi
        } unless { slot_epoch != e }
    od
}

/* The template PD: initialise, checkpoint() writes the ready block, then
 * checkpoint_and_report notifies the mux; it parks until stopped. */
active proctype Template() {
#ifdef HOSTILE_TEMPLATE
    byte n, v;
end:
    do
    :: atomic { n < STEPS && tmpl_running && BELOW_MUX ->
            n++;
            if
            :: select(v : 0 .. 1); rb_magic = v
            :: select(v : 0 .. 2); rb_entry = v
            :: mux_word = mux_word | TMPL
            fi
        }
    od
#else
    if
    :: atomic { BELOW_MUX -> rb_magic = MAGIC }; atomic { BELOW_MUX -> rb_entry = ENTRY }
    :: atomic { BELOW_MUX -> rb_entry = ENTRY }; atomic { BELOW_MUX -> rb_magic = MAGIC }
    fi;
    atomic { BELOW_MUX -> mux_word = mux_word | TMPL }
end:
    skip
#endif
}

/* The driver: a packet for the service until SPAWNS tenants came, and tx
 * buffers back. A packet that finds no Ready slot waits for one here (in
 * the code it is refused and its sender tries again: the model leaves out
 * a storm of retries, which on one core would starve every FWP). */
active proctype Driver() {
end:
    do
    :: atomic { gen < SPAWNS && !packet -> packet = true; mux_word = mux_word | DRV }
    :: atomic { in_flight -> in_flight = false; mux_word = mux_word | DRV }
    od
}

#ifdef HOSTILE_FWP
/* The idle deadline (SlotPool::idle_expired): a hostile FWP never asks to
 * exit, and only the timer frees its slot. Honest runs leave it out, so
 * that every spawn must end through its own exit request. */
active proctype Timer() {
end:
    do
    :: atomic { state == ACTIVE -> mux_word = mux_word | TIMER }
    od
}
#endif

/* Children::reset: suspend the slot, zero its control region. */
#define RESET atomic { slot_running = false; st_gen = 0; st_flags = 0; slot_word = 0 }
/* Children::start: one seL4 call writes the registers and resumes. */
#define START(pc, g) atomic { slot_pc = pc; slot_gen = g; slot_epoch++; slot_running = true }

active proctype Mux() {
    byte word, a, b;
    bool spawn;

/* Children::status, then a check on it: the words in either order. */
#define READ_STATUS if :: a = st_gen; b = st_flags :: b = st_flags; a = st_gen fi

/* on_tenant: send its frames, or leave them waiting for driver buffers. */
#define ON_TENANT                                                       \
    if                                                                  \
    :: frames && !tx_waiting ->                                         \
        if                                                              \
        :: frames = false                                               \
        :: tx_waiting = true; in_flight = true                          \
        fi                                                              \
    :: else -> skip                                                     \
    fi

/* end_if_exited: tear down once it asked to exit and its frames are out.
 * With FIX_EXIT_RECHECK the ring is looked at again after the report was
 * read, as the rings' own rule re-checks after the request: frames the
 * FWP published before it wrote the report are then seen. */
#ifdef FIX_EXIT_RECHECK
#define EXIT_RECHECK ON_TENANT; if :: tx_waiting -> skip :: else -> TEAR_DOWN fi
#else
#define EXIT_RECHECK TEAR_DOWN
#endif
#define TEAR_DOWN                                                       \
    assert(!frames);                /* its last frames went out */      \
    HONEST_EXIT(assert(exit_intent == gen));                            \
    state = DRAINING; ended++
#define END_IF_EXITED                                                   \
    if                                                                  \
    :: state == ACTIVE && !tx_waiting ->                                \
        READ_STATUS;                                                    \
        if                                                              \
        :: b & EXIT && a == gen -> EXIT_RECHECK                         \
        :: else -> skip                                                 \
        fi                                                              \
    :: else -> skip                                                     \
    fi;                                                                 \
    d_step { a = 0; b = 0 }

#ifdef HOSTILE_FWP
#define HONEST_EXIT(stmt) skip
#else
#define HONEST_EXIT(stmt) stmt
#endif

    /* Microkit's event loop; asleep in seL4_Recv is a valid end state */
end_wait:
    do
    :: atomic { mux_word != 0 -> word = mux_word; mux_word = 0; mux_busy = true };
        /* on_driver: buffers back resume the waiting frames (and the
         * PD's resumed() ends an FWP that exited meanwhile) */
        if
        :: word & DRV && tx_waiting && !in_flight ->
            tx_waiting = false; frames = false; END_IF_EXITED
        :: else -> skip
        fi;
        if
        :: word & TIMER && state == ACTIVE -> state = DRAINING; ended++
        :: else -> skip
        fi;
        /* template_ready: parse; on success stop the template and restore
         * its Free slot; on failure log and wait for another report */
        if
        :: word & TMPL && !checkpoint ->
            if
            :: a = rb_magic; b = rb_entry
            :: b = rb_entry; a = rb_magic
            fi;
            if
            :: a == MAGIC && b != 0 ->
#ifndef HOSTILE_TEMPLATE
                assert(b == ENTRY);     /* never a torn block */
#endif
                checkpoint = true;
                tmpl_running = false
            :: else -> skip
            fi;
            d_step { a = 0; b = 0 }
        :: else -> skip
        fi;
        /* slot_signalled */
        if
        :: word & SLOT && state == RESTORING ->
            /* its own report counts, not the signal (a shared bit) */
            READ_STATUS;
            if
            :: b & PARKED && a == gen ->
#ifndef BROKEN_SIGNAL_FIRST
                assert(parked_intent == gen);
#endif
                state = READY
            :: else -> skip
            fi;
            d_step { a = 0; b = 0 }
        :: word & SLOT && state == ACTIVE ->
            ON_TENANT;
            slot_word = 1;  /* the buffers went back: notify it */
            END_IF_EXITED
        :: else -> skip
        fi;
        /* a packet spawns on a Ready slot (Multiplexer::route, take_ready) */
        if
        :: packet && state == READY -> gen++; state = ACTIVE; packet = false; spawn = true
        :: else -> skip
        fi;
        /* apply(): scrub what is Draining, then start what SlotPool
         * planned: a refill restore of a Free slot (the warm pool's) and
         * a spawn */
        if
        :: state == DRAINING -> RESET; state = FREE; tx_waiting = false
        :: else -> skip
        fi;
        if
        :: state == FREE && checkpoint -> RESET; state = RESTORING; START(PC_PARK, gen)
        :: else -> skip
        fi;
        if
        :: spawn -> spawn = false; START(PC_SERVE, gen)
        :: else -> skip
        fi;
        d_step { word = 0; mux_busy = false }
    od
}

/* The goal: every tenant was served and its slot ended. A hostile
 * template may never write a usable ready block, and then its tenants are
 * never served: its own loss, so only the mux's progress is asked. */
#ifdef HOSTILE_TEMPLATE
#define SERVED true
#else
#define SERVED (ended == SPAWNS)
#endif

/* When nothing can move, the goal is reached: no hand-off was lost. */
active proctype Watchdog() {
end:
    timeout -> assert(SERVED)
}

/* Liveness, under weak fairness (pan -a -f): the goal is reached, and the
 * mux's handler always returns to wait. */
ltl live { <> SERVED && [] <> !mux_busy }
