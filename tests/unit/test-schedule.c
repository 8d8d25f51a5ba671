/* SPDX-License-Identifier: MIT */
/*
 * test-schedule.c — the daemon's timer arithmetic against an injected wall
 * clock: the loop below plays the manager (arm the next elapse, fire when
 * the clock reaches it, re-arm from the planned elapse) while the test moves
 * the clock, including jumps forward and back and jobs that outlast an
 * elapse. No scheduled elapse is ever run twice, a jump forward over
 * elapses runs once (not once per missed elapse), and nothing drifts.
 */

#include <errno.h>
#include <stdlib.h>

#include "format/calendar.h"
#include "format/schedule.h"
#include "format/zone.h"
#include "test.h"

/* Local time is UTC here. */
static const Zone *local;

#define S UINT64_C(1000000)
#define H (3600 * S)
#define DAY (24 * H)

/* 2026-11-21 00:00:00 UTC */
#define BASE (UINT64_C(1795219200) * S)

typedef struct Sim {
        CalendarSpec *spec;
        uint64_t now;           /* the injected wall clock */
        uint64_t armed;         /* absolute CLOCK_REALTIME timer */
        uint64_t busy_until;    /* a job runs until then */
        uint64_t last_fired;    /* planned elapse of the last firing (0 = none) */
        uint64_t runs[4096];    /* planned elapse of each run */
        size_t n_runs;
} Sim;

static void sim_start(Sim *sim, const char *expr, uint64_t now) {
        *sim = (Sim) { .now = now };
        check(calendar_spec_from_string(expr, local, NULL, &sim->spec) == 0);
        check(schedule_next(sim->spec, local, now, now, &sim->armed) == 0);
}

/* Advance the clock by `step`, firing the timer as the kernel would (an
 * absolute timer fires once the clock is past it). Like the manager, a
 * firing while a job runs is skipped; either way the timer is re-armed from
 * the planned elapse. Each job takes `job` of wall time. */
static void sim_advance(Sim *sim, uint64_t step, uint64_t job) {
        uint64_t end = sim->now + step;
        while (sim->armed <= end) {
                uint64_t planned = sim->armed;
                sim->now = MAX(sim->now, planned);
                sim->last_fired = planned;
                if (sim->now >= sim->busy_until) {
                        check(sim->n_runs < ELEMENTSOF(sim->runs));
                        sim->runs[sim->n_runs++] = planned;
                        sim->busy_until = sim->now + job;
                }
                check(schedule_next(sim->spec, local, planned, sim->now, &sim->armed) == 0);
                check(sim->armed > sim->now);
        }
        sim->now = end;
}

/* The wall clock is set to `now`, and the manager hears of it. */
static void sim_clock_set(Sim *sim, uint64_t now) {
        sim->now = now;
        check(schedule_after_clock_change(sim->spec, local, sim->armed, sim->last_fired, now, &sim->armed) == 0);
}

static void check_no_duplicates(const Sim *sim) {
        for (size_t i = 1; i < sim->n_runs; i++)
                check(sim->runs[i] > sim->runs[i - 1]);
}

static void test_steady_hourly(void) {
        Sim sim;
        sim_start(&sim, "hourly", BASE + 10 * S);
        sim_advance(&sim, DAY, 30 * S);
        check_int_eq(sim.n_runs, 24);
        for (size_t i = 0; i < sim.n_runs; i++)
                check_u64_eq(sim.runs[i], BASE + (i + 1) * H); /* no drift */
        check_no_duplicates(&sim);
        calendar_spec_free(sim.spec);
}

static void test_jump_forward(void) {
        Sim sim;
        sim_start(&sim, "hourly", BASE + 10 * S);
        sim_advance(&sim, 2 * H, 5 * S);        /* runs at 01:00 and 02:00 */
        check_int_eq(sim.n_runs, 2);
        sim.now += 5 * H + 30 * 60 * S;          /* the clock jumps to 07:30 */
        sim_advance(&sim, 1, 5 * S);             /* the overdue timer fires once */
        check_int_eq(sim.n_runs, 3);
        check_u64_eq(sim.armed, BASE + 8 * H);   /* then the schedule resumes */
        sim_advance(&sim, H, 5 * S);
        check_int_eq(sim.n_runs, 4);
        check_u64_eq(sim.runs[3], BASE + 8 * H);
        check_no_duplicates(&sim);
        calendar_spec_free(sim.spec);
}

static void test_jump_back(void) {
        Sim sim;
        sim_start(&sim, "*-*-* 02:00:00", BASE + 10 * S);
        sim_advance(&sim, 3 * H, 60 * S);        /* the 02:00 run */
        check_int_eq(sim.n_runs, 1);
        sim_clock_set(&sim, sim.now - 2 * H);    /* back to 01:00 */
        check_u64_eq(sim.armed, BASE + DAY + 2 * H);
        sim.busy_until = 0;
        sim_advance(&sim, 4 * H, 60 * S);        /* 02:00 passes again: no second run */
        check_int_eq(sim.n_runs, 1);
        check_u64_eq(sim.armed, BASE + DAY + 2 * H);
        sim_advance(&sim, DAY, 60 * S);
        check_int_eq(sim.n_runs, 2);
        check_no_duplicates(&sim);
        calendar_spec_free(sim.spec);
}

/* A clock a day ahead, corrected after that day's run: the runs of the two
 * days it has to live again are taken, each once, not skipped until the
 * clock is back where it was. */
static void test_set_back_a_day(void) {
        Sim sim;
        sim_start(&sim, "*-*-* 02:00:00", BASE + DAY + 10 * S);
        sim_advance(&sim, 3 * H, 60 * S);        /* the run of day 2, 02:00 */
        check_int_eq(sim.n_runs, 1);
        check_u64_eq(sim.runs[0], BASE + DAY + 2 * H);
        sim_clock_set(&sim, BASE + H);           /* back to day 1, 01:00 */
        check_u64_eq(sim.armed, BASE + 2 * H);
        sim.busy_until = 0;
        sim_advance(&sim, 2 * DAY, 60 * S);
        check_int_eq(sim.n_runs, 3);
        check_u64_eq(sim.runs[1], BASE + 2 * H);
        check_u64_eq(sim.runs[2], BASE + DAY + 2 * H);
        /* Forward: nothing moves; the timer fires once for what was jumped over. */
        sim_clock_set(&sim, sim.now + 3 * DAY);
        check_u64_eq(sim.armed, BASE + 2 * DAY + 2 * H);
        sim_advance(&sim, 1, 60 * S);
        check_int_eq(sim.n_runs, 4);
        calendar_spec_free(sim.spec);
}

static void test_job_outlasts_elapses(void) {
        Sim sim;
        sim_start(&sim, "*:*:0/10", BASE);
        /* Each job takes 35 s: elapses that pass during a job are not queued up. */
        sim_advance(&sim, 10 * 60 * S, 35 * S);
        check_int_eq(sim.n_runs, 15);  /* 00:00, 00:40, 01:20, … */
        check_no_duplicates(&sim);
        for (size_t i = 1; i < sim.n_runs; i++)
                check_u64_eq(sim.runs[i] - sim.runs[i - 1], 40 * S);
        calendar_spec_free(sim.spec);
}

static void test_missed(void) {
        CalendarSpec *spec;
        check(calendar_spec_from_string("*-*-* 02:00:00", local, NULL, &spec) == 0);
        check(schedule_missed(spec, local, 0, BASE));                                 /* no backup at all */
        check(!schedule_missed(spec, local, BASE + 3 * H, BASE + 4 * H));             /* after today's 02:00 */
        check(schedule_missed(spec, local, BASE + 1 * H, BASE + 4 * H));              /* before it: missed */
        check(!schedule_missed(spec, local, BASE + 3 * H, BASE + DAY + H));           /* tomorrow 01:00: not yet */
        check(schedule_missed(spec, local, BASE + 3 * H, BASE + DAY + 2 * H));        /* exactly at the elapse */
        calendar_spec_free(spec);
}

static void test_no_future(void) {
        CalendarSpec *spec;
        uint64_t next;
        check(calendar_spec_from_string("2020-01-01 00:00:00", local, NULL, &spec) == 0);
        check_int_eq(schedule_next(spec, local, BASE, BASE, &next), -ENOENT);
        calendar_spec_free(spec);
}

int main(void) {
        local = zone_utc();
        TEST_RUN(test_steady_hourly);
        TEST_RUN(test_jump_forward);
        TEST_RUN(test_jump_back);
        TEST_RUN(test_set_back_a_day);
        TEST_RUN(test_job_outlasts_elapses);
        TEST_RUN(test_missed);
        TEST_RUN(test_no_future);
        return 0;
}
