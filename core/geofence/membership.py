"""Zone membership with hysteresis: when a tag is *in* a zone, decided so that it does not flap.

Per (tag, zone) the inputs are the signed distance of each fix to the zone boundary (+ inside) and the fix's
`accuracy_m` (speed awareness below also uses the fix's position and, when given, the tracker's stationary flag
at the fix). The margin a fix must clear is tied to its accuracy (`margin_per_accuracy · accuracy_m`, kept within
[`min_margin_m`, `max_margin_m`]):

- **enter** when fixes are inside by more than the margin for `enter_confirm_s` (one outlier fix is not enough),
  or have been inside (at all) continuously for the zone's enter dwell time — a tag parked just inside a wall is
  admitted, but only after it stayed there;
- **exit** only when the fix is outside by more than the margin ("clearly outside"), continuously for the exit
  dwell time; a fix back inside restarts that clock, a fix in the grey band between neither restarts nor completes it;
- **rooms are exclusive** (with `overlaps`): a tag in room A switches to an adjacent, non-overlapping room B on
  clear evidence (inside B beyond the margin) and leaves A at that moment; lingering past the wall switches it
  after the enter dwell only if its fixes were on average deep enough inside B: `switch_depth_m` at the enter
  dwell, less the longer it stayed (a mean over more fixes is surer: the depth asked falls as 1/sqrt(time), down
  to `switch_min_depth_m`), or after `switch_dwell_s` continuously in B — a tag parked on the wall does not
  ping-pong between two rooms, and a tag parked just past it is moved there within a minute or so;
- **unknown** when the fix's accuracy is worse than `max_accuracy_m`: such a fix changes nothing (it neither
  confirms nor breaks membership) and the tag's membership is reported as unknown until a usable fix arrives;
- **speed-aware**: the margins and dwells above are for a *parked* tag, whose fixes scatter around one spot — that
  is where flapping comes from. A tag *moving* through a doorway is judged on a small margin (`moving_margin_m`)
  and short dwells (`moving_enter_confirm_s`, `moving_exit_dwell_s`), linearly in between by speed, so its room
  follows it within a positioning window instead of seconds later. The speed is the tag's own: an exponential
  mean of the velocity between its successive fixes (position and time kept in the state), so membership stays
  a pure function of the fix sequence. Thresholds sit above the speeds that the scatter of parked tags produces
  (a smoothed parked tag's apparent speed stays below ~0.6 m/s over 4 s on the simulator); a jump faster than
  `max_speed_mps` counts at that speed, so one wild fix does not make a parked tag "moving".
- **settling after a walk**: a tag that walked out of its room (faster than parked for `settle_motion_s`, heading
  out of it) and stopped less than `settle_s` ago is not held in its old room by the switch depth above: the room
  it was in was decided before it walked and says nothing about where it stopped. A switch then asks only
  `settle_dwell_s` continuously inside the neighbour (and a mean depth of `settle_depth_m`). A tag parked just past
  a wall after a walk is shown there within seconds instead of minutes; one parked *on* the wall may switch a
  few times during `settle_s`, never after. Tags that never walked, or walk along a wall, are unaffected. A
  settling tag the tracker pins (below) switches as soon as its pin is inside the neighbour (at
  `settle_depth_m`): the pin is a fix averaged over seconds and does not move while pinned, so the dwell would
  only delay the same answer. A settling tag whose fixes since they crossed the wall were on average
  `settle_deep_m` inside the neighbour (each counted at most at its margin) switches after `settle_deep_dwell_s`:
  "clearly inside" for a tag that just walked asks that mean depth, not a parked tag's margin of its accuracy
  (2 m and more for a walking tag's fixes). A tag that walks through a door and stops a metre or two
  past it was otherwise shown in its old room until the tracker pinned it (~4 s still) or the settle dwell had
  passed: of the walking tags' wrong time 0-10 s after a stop (1.5 of 6.2 points, seed 1) about half had the
  tracked position already in the right room. Simulator, walking tags: wrong share 6.19/6.11 -> 6.04/5.98 %
  (seeds 1/2; held-out seeds 3-6 7.28/6.30/5.78/6.22 -> 7.11/6.12/5.62/6.00 %), events per true room change
  1.084/1.108 -> 1.095/1.114, parked spurious unchanged, harsh (correlated) radio parked spurious +3.6 % summed
  over seeds 1-6. A shorter settle dwell instead (1.5 s) gained as much but switched back and forth (events
  per change 1.16); shorter dwells asking a mean depth of everyone settling (settle_depth_m 0.3-0.7) lost.
  Shallower is as clear over longer: after `settle_deep_dwell_s` the mean depth asked falls as 1/sqrt(time
  inside), like the lingering switch's (0.71 m after 1 s, 0.5 m after 2 s), and the last fix must be as deep
  (a mean over a few fixes can be carried by one deep one). A tag whose fixes settle 0.5 m past the wall after a
  walk was otherwise shown in its old room for the whole settle dwell. Simulator, walking tags (with the walking
  switch below): wrong share 5.25/4.71 -> 5.04/4.67 % (seeds 1/2; seeds 3-6 5.49/5.14/4.44/4.66 ->
  5.45/5.03/4.36/4.55 %, -0.59 points summed), events per true room change 1.098/1.120 -> 1.120/1.129 (seeds
  1/2), parked spurious unchanged, harsh (correlated) radio parked spurious 41.5 -> 41.9 per tag-hour summed
  over seeds 1-6. Asking 1.25 times that depth gained -0.38 points with events per change 1.109/1.125.
- **walking on past a wall**: a walk that crosses a wall at a shallow angle heads out of its room with only a
  small share of its speed, so it is judged on (nearly) a parked tag's margin of its accuracy, ~2 m for a
  walking tag's fixes, and its track, within a metre of the wall for many seconds, neither clears that margin
  nor the lingering switch's mean depth: it was shown in its old room until the walk ended or turned. A tag at
  a walk's speed (motion 1: `moving_speed_mps`, or walking off its pin), not pinned, whose fixes have been
  inside the next room for `moving_switch_dwell_s` at a mean depth (and the last fix at a depth) of
  `moving_switch_depth_m` switches. A walk along the wall on the old room's side keeps its fixes' mean out of
  the next room. Simulator, walking tags: wrong share 5.35/4.87 -> 5.25/4.71 % (seeds 1/2; seeds 3-6
  5.66/5.28/4.48/4.78 -> 5.49/5.14/4.44/4.66 %, -0.73 points summed), events per true room change 1.089/1.108 ->
  1.098/1.120, parked spurious unchanged (1.9 per tag-hour summed over seeds 1-6), harsh (correlated) radio
  parked spurious unchanged (41.5). After 1 s it gained -0.81 points with harsh spurious 41.9; judging the speed
  before the noisy-tag rule below (after 1 s), harsh spurious rose to 45.5; above parked speed rather than a
  walk's, parked spurious rose 1.9 -> 2.1-2.5.
- **the tracker's stationary flag** (optional, per fix: the realtime loop passes the Kalman tracker's, see
  `core.tracking`): once the tracker pins a tag as parked, the tag is parked for walk detection whatever its
  fixes' apparent speed — the walk is over and settling starts then, not when the fixes' speed has decayed. A tag
  the tracker pins `pinned_walk_m` or more from where it last pinned it has walked (settling starts at that pin)
  even if the speed above never registered the walk (a mean over seconds: a walk shorter than ~9 m does not
  register). Such a walk is not asked to head out of the room: it ended somewhere else, so the room it had says
  as little about where it stopped. Nearer, `pinned_walk_out_m`, a new pin is a walk too when it is at least
  `pinned_walk_out_depth_m` outside the tag's room: a tag that walked a few metres through a door and stopped
  (pin memory and the speed's mean hide such walks) was held in its old room by the lingering switch, while
  its pin, past the wall, already said where it went; a parked tag's pin rarely jumps that far and lands
  that deep out of its room. Simulator, walking tags: wrong share 5.83/5.70 -> 5.75/5.66 % (seeds 1/2;
  seeds 3-6 6.89/6.02/5.48/5.56 -> 6.63/6.02/5.43/5.49 %, -0.50 points summed over seeds 1-6), parked
  spurious unchanged (1.7 summed), harsh (correlated) radio parked spurious +1.3 % summed, events per true
  room change unchanged (1.099/1.119). Every pin 4 m away counted as a walk gained more on seeds 3-6 (-0.82
  points) but lost on seed 2 (5.73 %) and switched back and forth (events per change 1.125); with any depth
  outside, seed 1 lost (5.85 %) and events per change rose to 1.123 (seed 2); at 0.7 m, seed 1 gained nothing.
  While the tracker pins a tag, its lingering switch (above) asks a mean depth of at least
  `pinned_switch_depth_m` however long it stayed: the pinned fixes are one averaged spot sharing the
  tracker's bias (~0.35 m median, ~1 m p90 for tags parked near a wall on the simulator), so a mean over more of
  them is not surer. The flag changes no margin or dwell: a pinned tag's fixes are judged as a parked tag's
  anyway. Callers without the flag (or tags the tracker never pins) are judged on their fixes alone.
  **A new tag's first room**: a tag that has not walked since it was first seen and is in no room is admitted by
  lingering (the enter dwell) only once the tracker has pinned it for `first_room_pin_s`, or after
  `first_room_max_s` inside (a tag the tracker never pins). Its first seconds of fixes come from part-filled
  windows and an unsettled track; a tag switched on next to a wall was otherwise put in the wrong room, and
  moved to the right one only minutes later (two spurious events). Clearly inside (beyond the margin) still
  admits at once, and tags with a room, or that walked, are unaffected. Given the flag, nothing admits a new tag
  in its first `first_window_s` (one positioning window): those fixes summarise a part-filled window, and the
  track converging on the first one can cross a room clearly (seed 5 of bench/zones.py: a tag 1 m from a wall
  started 7 m off and was in the next room for 1 s — two spurious events).
  A new tag the tracker pins `first_room_pin_depth_m` or more inside a room is admitted there by lingering
  without the wait: the pin is an average over seconds of fixes, and its bias (~0.35 m median, ~1 m p90 near a
  wall) rarely reaches that depth; the wait is for pins nearer the wall. Every walking tag of bench/zones.py
  starts new and parked 20-60 s, and waited ~20 s for a room that its pin already showed (0.13 of seed 1's
  5.90 points). Simulator, walking tags: wrong share 5.90/5.81 -> 5.83/5.70 % (seeds 1/2; seeds 3-6
  6.95/6.11/5.50/5.68 -> 6.89/6.02/5.48/5.56 %, -0.47 points summed), parked tags' wrong time down too (seed
  1: 3.6 -> 3.3 %), parked spurious unchanged (1.7 per tag-hour summed over seeds 1-6), harsh (correlated)
  radio parked spurious +0.2 %, events per true room change unchanged. At 0.65 m a stationary tag took a wrong
  first room (seed 5: parked spurious 0.4 -> 0.6); a depth asked that falls from 0.8 m as the pin ages
  (1/sqrt) gained a little more but also added a wrong first room (1.7 -> 1.9 summed).
  That first room stays provisional while the tag has not walked since it was first seen: a pin of its first
  15 s decided it, and a later pin `first_room_pin_depth_m` deep inside the neighbour (the depth that would have
  admitted it there at once) moves it after the enter dwell, not only the lingering switch's mean depth or
  `switch_dwell_s` (a new tag near a wall whose first pin was on the wrong side was shown in the wrong room for
  5 minutes or more). Harsh (correlated) radio: parked tags' wrong time 133.3 -> 128.3 points summed over seeds
  1-6, spurious 43.5 -> 43.6 per tag-hour summed, walking wrong share -0.2 points summed. Simulator radio:
  parked tags unchanged (their wrong first pins stay shallower than that); walking -0.01 points summed (one
  walker of seed 1 that took a short walk, not registered as one, was shown in its new room 8 s sooner: 5.005 ->
  4.99 %). Asking 0.3 / 0.5 m instead moved parked tags out of right first rooms too (simulator parked spurious
  1.1 -> 1.5 summed), 0.7 m gained as much as 0.8.
  A first room admitted on a pin shallower than that (after the wait) is a weaker decision still, and a later
  pin is not held to more than it: its lingering switch drops the pinned floor (`pinned_switch_depth_m`), so a
  mean depth on the curve above moves it (a pin 0.5 m past the wall: after ~45 s). Simulator, parked tags'
  wrong time 10.70 -> 9.31 points summed over seeds 1-6 (new tags near walls moved to their true room a few
  minutes sooner), spurious and walking unchanged, harsh radio unchanged. Without the floor for every first
  room instead, a tag admitted at once, deep inside, gave way to a shallow bias later; a fixed 2 minutes at 0.3 m
  gained less (9.59), 0.1 m took tags back and forth (simulator parked spurious 1.1 -> 1.5).
- **a released tag far from its pin walks**: the speed above is a mean over ~4 s, and the tracker holds a tag
  that starts walking at its pin for seconds before releasing it, so a walk's speed registered late — a tag
  walking through a doorway right after its release was judged as parked (a margin of its accuracy) and shown
  in the old room several seconds after the tracked position was already in the new one. A tag the tracker has
  released whose fix is at least `released_walk_accuracies` times its accuracy (and `released_walk_min_m`) from
  where it was last pinned is moving (motion 1, still only as far as it heads out of its room): a parked tag's
  released fixes wander less than that (on the simulator <= 5 m, <= 1.9 accuracies; with the harsher,
  correlated radio 99 % within ~3 accuracies, hence 3). Only while its fixes move away from the pin (at
  `released_walk_away_mps` between two fixes): a tag that walked off and stopped is judged as parked until the
  tracker pins it again — otherwise the scatter of its first stopped fixes, on the small moving margin,
  switched it back and forth across a nearby wall (walking tags' events per true room change 1.14 -> 1.08 on
  seed 1). It needs no state of its own (the pin's and the last fix's positions are kept above). A shorter
  speed time constant instead (2 s) caught walks sooner but made released parked fixes look like motion
  (spurious events x3-5). Simulator, walking tags: wrong share 6.55/6.66 -> 6.42/6.35 % (seeds 1/2) with the
  rule alone, parked spurious unchanged.
  Nearer, a released tag walks once it is `released_walk_near_m` (and `released_walk_near_accuracies`) from
  its pin while its distance from the pin grows as a walk's does: at `released_walk_rate_mps` now (an
  exponential mean over `released_walk_rate_time_constant_s`) and at `released_walk_mean_mps` on average since
  the release (at least 1 s; the state keeps when the tag was released and that rate). The tracker releases a
  walking tag ~5.5 s into its walk (median, seed 1), the track then catches up at 1.5-2 m/s, and three
  accuracies (~7 m) were reached only ~4 s after the release, while the parked margin held the tag in its old
  room. Released tracks of seed 1 (simulator): a false release (a burst of outlying fixes the track follows,
  then pin memory brings it back) grows its distance at a walk's rate for a second or so, but rarely past 4 m;
  one that swings out, back past the pin and out the other way (parked seed 4: 3.7 m past the pin, across a
  wall) reaches that distance too slowly on average. Simulator, walking tags: wrong share 6.04/5.98 ->
  5.90/5.81 % (seeds 1/2; held-out seeds 3-6 7.11/6.14/5.64/6.00 -> 6.95/6.11/5.50/5.68 %, -0.96 points summed
  over seeds 1-6), the time 6-10 s into a walk 0.89 -> 0.79 points (seed 1); events per true room change
  1.095/1.114 -> 1.099/1.119, parked spurious unchanged (1.7 per tag-hour summed over seeds 1-6), harsh
  (correlated) radio parked spurious +5.6 % summed over seeds 1-6. At 4 m it gained more (-1.20 points) but
  events per change rose to 1.123 (seed 2); without the mean since the release, parked spurious 0.1 -> 0.5
  (seed 4); at 4 m with neither the accuracies nor the mean since the release, parked spurious 0.2 -> 0.6
  (seed 1). Lowering the tracker's drift release (1.2 sigma) or its release speed time (3 s) together with the
  rule lost walking figures (5.90 -> 6.11/5.97 %, seed 1).
  Such a walk is a walk for settling too: when the tag stops, its old room has no incumbent's advantage (as
  after a walk its speed registered, which a walk of a few metres does not). A tag that walked a few metres
  through a door and stopped just past it was otherwise held in its old room by the pinned lingering switch's
  depth.
  Only for tags whose fixes are no noisier than they claim (the tracker's learnt ratio below
  `walked_off_max_noise_ratio`, when the caller passes it): under correlated shadowing a noisy parked tag's
  released track swings that far without a walk. Simulator, walking tags: wrong share 5.04/4.67 -> 5.00/4.56 %
  (seeds 1/2; seeds 3-6 5.45/5.03/4.36/4.55 -> 5.40/4.94/4.34/4.52 %, -0.34 points summed), events per true
  room change 1.120/1.129 -> 1.129/1.134, parked spurious unchanged; harsh (correlated) radio parked spurious
  41.9 -> 42.7 per tag-hour summed over seeds 1-6, walking unchanged (92.0 points summed). Up to a learnt
  ratio of 1.0 / 1.2 / 1.5 instead, harsh spurious rose to 43.9 / 46.3 / 51.7.
  Nearer still, such a tag is *starting* a walk once it is `released_start_m` (and `released_start_accuracies`)
  from its pin, released at least `released_start_min_s`: it is judged on `released_start_margin_m` and the
  moving enter confirmation (as far as it heads out of its room) instead of a parked tag's margin of its
  accuracy, ~2.4 m for a released track. Of the walking tags' wrong time while they walked with the tracked
  position already in the new room (seed 1: 0.71 points), 0.28 was here: 6.5-7.5 s into the walk, the track
  ~3.5 m (1.6 accuracies) from its pin. A parked tag's false release can look the same (1.2 accuracies median
  against 1.5): on seed 1 one parked tag was 4.1 m from its pin 2.5 s after a release and 1.3 m into the next
  room, which the burst rule below holds back. Simulator, walking tags: wrong share 5.75/5.66 -> 5.66/5.58 %
  (seeds 1/2; seeds 3-6 6.63/6.02/5.43/5.49 -> 6.51/5.92/5.34/5.37 %, -0.60 points summed), events per true
  room change 1.099/1.119 -> 1.102/1.120, parked spurious unchanged (1.3 per tag-hour summed over seeds 1-6),
  harsh (correlated) radio parked spurious +2.2 % summed. From 2.5 m and 1.5 accuracies on a 0.8 m margin it
  gained more (-0.79 points) but events per change reached 1.121 (seed 2); from 1 accuracy, parked spurious
  rose 1.7 -> 4.1 (without the burst rule).
- **a burst does not switch a long-parked tag**: one wild beacon in a positioning window makes a few fixes in a
  row land metres off; the tracker releases the tag on the first and its track follows them past a nearby wall
  for a second or so (clearly inside the neighbour) before pin memory brings it back. A tag the tracker had held
  pinned for `released_switch_held_s` or more, released at most `released_switch_window_s` ago and not walking
  off its pin (the rule above), switches rooms on clear evidence only once that evidence lasted
  `released_switch_confirm_s`. Simulator, parked tags near walls: spurious events per tag-hour 1.0 -> 0.6 on
  seed 6 (a tag 0.5 m from a wall was switched by a burst and back by the lingering switch; 1.7 -> 1.3 summed
  over seeds 1-6), walking tags and events per true room change unchanged (the bench's walkers pause at most
  60 s), harsh (correlated) radio parked spurious 468.4 -> 468.2 summed over seeds 1-6. The price: a tag parked
  for minutes that walks straight through a wall as it is released is shown past it 1.5 s later: with the
  bench's walks but pauses of 60-180 s (every walk starts from a long pin), the walking wrong share rose
  4.54/4.71 -> 4.65/4.80 % (seeds 1/2, with the walk-start rule above). Without the held time (every release)
  the walking wrong share rose 0.71 points summed over seeds 1-6, with 20 s 0.60.
  Nor does such a burst take the tag out of its room: near a corner the track can be clearly outside the room
  and not clearly inside the next (or outside the floor) for the exit dwell, and the tag was left in no room, to
  be admitted again as a first room 15 s after the tracker pinned it back (seed 1: one tag, 2 spurious events).
  While the rule holds, the tag's exit waits out `released_switch_window_s`; entering another room still ends it
  at once. Simulator, parked spurious per tag-hour 2.1 -> 1.9 summed over seeds 1-6 (seed 1: 0.8 -> 0.6),
  walking tags unchanged on every seed.
- **a noisy tag's speed is not a walk**: under static, correlated shadowing the position solve of some parked
  tags hops metres between two minima, and their track swings past a nearby wall at a walk's speed (1-2 m/s): on
  the moving margin (0.2 m) every swing switched rooms, and that was most of their spurious events. The tracker
  learns how much noisier than claimed a tag's fixes are (`core.tracking`, `noise_adapt_s`); a tag at
  `noisy_fix_ratio` or above, when the caller passes the ratio, is judged as parked whatever its apparent speed,
  and moves only by walking off its pin (the rules above). Harsh (correlated) radio, parked spurious events per
  tag-hour summed over seeds 1-6: 147.8 -> 111.6 (-24 %), walking wrong share +0.74 points summed (110.40 ->
  111.14), walking events per true room change 1.542/1.547 -> 1.523/1.516 (seeds 1/2). The simulator radio is
  unchanged: its tags' ratio stays below 1 (p99 0.97-0.99). From a ratio of 1.0 (before the tracker's drift
  rule) it took 15 % more but cost 0.9 walking points more; the accuracy passed scaled by the ratio's square root
  instead took 4 %. Callers without the ratio are unaffected.
  Nor is such a tag's apparent speed a walk for settling: a swing past the wall registered as one while the tag
  stayed in its room (its parked margin), and the settling rules then moved it across the wall on the next hop
  and back on the one after. Harsh (correlated) radio, parked spurious events per tag-hour summed over seeds 1-6:
  43.6 -> 36.6 (-16 %; seed 4 16.1 -> 13.1, seed 6 13.0 -> 9.4), walking wrong share 91.82 -> 91.57 points
  summed, events per true room change unchanged; the simulator radio unchanged. Ending settling for such tags
  outright instead (also after a walk the tracker's pins show) took 38.4 and cost 1.2 walking points.

Fixes older than the last one applied for the tag are ignored, so replaying a batch after a crash cannot emit a
transition twice once the state was saved. The state per tag is a small msgspec value (`TagZoneState`) stored
in Redis (or memory) between batches; fields are only ever appended, so states stored by an older version
decode (their motion starts at rest).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

ENTER = "enter"
EXIT = "exit"
# Why a transition happened, stored and published with every zone event so a person can check it against the
# floor plan (`ZoneTransition.reason`; the evidence numbers travel with it: depth, accuracy, margin).
INSIDE_MARGIN = "inside_margin"  # enter: inside by more than the margin for the fix's accuracy (and motion)
DWELLED = "dwelled"  # enter: inside (at all) for the zone's enter dwell time
LINGERED = "lingered"  # enter, from another room: inside it long enough, deep enough on average
SETTLED = "settled"  # enter: stopped here after walking out of its room (no incumbent's advantage)
FIRST_ROOM = "first_room"  # enter: in no room, not walked since first seen (mostly new): where it settled
OUTSIDE_MARGIN = "outside_margin"  # exit: outside by more than the margin for the exit dwell time
ENTERED_OTHER = "entered_other"  # exit: it entered a zone that excludes this one (the next room)
REASONS = (INSIDE_MARGIN, DWELLED, LINGERED, SETTLED, FIRST_ROOM, OUTSIDE_MARGIN, ENTERED_OTHER)
EVIDENCE = ("reason", "depth_m", "accuracy_m", "margin_m")  # the ZoneTransition fields that explain it
STARTING, WALKING = 1, 2  # how clearly a released tag walks off its pin (`_departure`)


@dataclass(frozen=True, slots=True)
class MembershipConfig:
    """Tunable numbers of the hysteresis (units in the names). Zones may override the dwell times."""

    enter_dwell_s: float = 5.0
    enter_confirm_s: float = 0.5
    exit_dwell_s: float = 2.0
    switch_depth_m: float = 1.5
    switch_dwell_s: float = 300.0
    switch_min_depth_m: float = 0.3  # a lingering switch asks ever less depth (1/sqrt(time)), down to this
    margin_per_accuracy: float = 1.0
    min_margin_m: float = 0.5
    max_margin_m: float = 3.0
    reach_m: float = 3.0  # signed distances are computed (and clipped) within this distance of a boundary
    max_accuracy_m: float = 10.0
    # speed-aware membership: a moving tag is judged on a small margin and short dwells, a parked one on the above
    speed_aware: bool = True  # False: every tag is judged as parked (the behaviour before speed awareness)
    parked_speed_mps: float = 0.7  # at or below: parked (all of the margins and dwells above)
    moving_speed_mps: float = 0.9  # at or above: moving (the moving_* numbers); linear in between
    speed_time_constant_s: float = 4.0  # the speed is an exponential mean of the fixes' velocity over ~this
    speed_gap_s: float = 10.0  # a longer silence restarts the speed estimate (at rest)
    max_speed_mps: float = 5.0  # a faster jump between fixes is a positioning glitch: counted at this speed
    moving_margin_m: float = 0.2
    moving_enter_confirm_s: float = 0.0
    moving_exit_dwell_s: float = 1.0
    # a walking tag lingering in the next room switches after this long if its fixes since were on average (and its
    # last one is) this deep inside (see the module docstring; inf: off)
    moving_switch_dwell_s: float = 1.5
    moving_switch_depth_m: float = 0.3
    heading_time_constant_s: float = 1.0  # how fast a tag's rate out of its zones (m/s) is followed
    # a tag whose fixes are at least this much noisier than they claim (the tracker's learnt noise ratio, when the
    # caller passes it) moves only by walking off its pin, not by its apparent speed (module docstring; inf: off)
    noisy_fix_ratio: float = 1.5
    # a walk off its pin registers as a walk (settling follows) only below this learnt noise ratio (docstring; 0: off)
    walked_off_max_noise_ratio: float = 0.9
    min_heading_share: float = (
        0.5  # moving counts in full when >= this share of the speed heads out of the zone
    )
    # settling: after a tag walked out of its room and stopped, its old room has no incumbent's advantage for
    settle_s: float = 60.0  # ... this long: a switch asks only
    settle_dwell_s: float = 5.0  # ... this long continuously inside the neighbour (capped at the enter dwell)
    settle_depth_m: float = 0.0  # ... at this mean depth (0: being inside is enough)
    settle_motion_s: float = 5.0  # a walk: faster than parked this long (a glitch is shorter)
    # ... or once its fixes since they crossed were on average (and the last one is) this deep inside the neighbour
    # after this long, less the longer (1/sqrt(time); see the module docstring; inf: off)
    settle_deep_dwell_s: float = 0.5
    settle_deep_m: float = 1.0
    # the tracker's stationary flag (when the caller passes it): where it pins a tag is a settled, averaged spot
    pinned_walk_m: float = 8.0  # pinned this far from where it was last pinned: it walked (settling starts)
    pinned_walk_out_m: float = 4.0  # ... or this far (inf: off) and this deep outside its room (docstring)
    pinned_walk_out_depth_m: float = 0.5
    pinned_switch_depth_m: float = 0.7  # a pinned tag's lingering switch asks at least this mean depth
    first_room_pin_s: float = 15.0  # a new tag lingering in its first room is admitted once pinned this long
    first_room_pin_depth_m: float = 0.8  # ... or at once when pinned this deep inside (inf: off; docstring)
    first_room_max_s: float = 60.0  # ... or once it lingered this long (a tag the tracker never pins)
    first_window_s: float = 3.0  # a new tag's first fixes, this long, admit it nowhere (docstring)
    # released by the tracker and at least this far from where it was last pinned (the larger of the two):
    released_walk_accuracies: float = 3.0  # ... this many times the fix's accuracy
    released_walk_min_m: float = 4.5  # ... and never less than this: it is moving (see the module docstring)
    released_walk_away_mps: float = 0.6  # ... while the fixes move away from the pin at least this fast
    # ... or nearer, while its distance from the pin grows steadily (see the module docstring): this far (inf: off)
    released_walk_near_m: float = 4.5
    released_walk_near_accuracies: float = 1.8  # ... and this many times the fix's accuracy
    released_walk_rate_mps: float = 1.2  # ... the distance growing this fast (exponential mean over ...)
    released_walk_rate_time_constant_s: float = 1.0  # ... ~this long)
    released_walk_mean_mps: float = 1.0  # ... and grown on average this fast since the release (>= 1 s)
    # a tag released by the tracker at most this long ago, and not walking off its pin (above), switches rooms on
    # clear evidence only after it lasted this long (see the module docstring; 0: the plain enter_confirm_s)
    released_switch_window_s: float = 4.0
    released_switch_confirm_s: float = 2.0
    released_switch_held_s: float = 60.0  # ... if the tracker had held it pinned at least this long
    # nearer still, while its distance grows as steadily, a walk is starting (see the module docstring): from
    released_start_m: float = 3.0  # ... this far (inf: off)
    released_start_accuracies: float = 1.4  # ... and this many accuracies: judged on this margin
    released_start_margin_m: float = 1.0
    released_start_min_s: float = 1.5  # ... once released this long

    def __post_init__(self) -> None:
        for name in (
            "enter_dwell_s",
            "enter_confirm_s",
            "exit_dwell_s",
            "switch_dwell_s",
            "switch_depth_m",
            "switch_min_depth_m",
            "margin_per_accuracy",
            "min_margin_m",
            "parked_speed_mps",
            "moving_margin_m",
            "moving_enter_confirm_s",
            "moving_exit_dwell_s",
            "moving_switch_dwell_s",
            "moving_switch_depth_m",
            "noisy_fix_ratio",
            "walked_off_max_noise_ratio",
            "settle_s",
            "settle_dwell_s",
            "settle_depth_m",
            "settle_motion_s",
            "settle_deep_dwell_s",
            "settle_deep_m",
            "pinned_walk_m",
            "pinned_walk_out_m",
            "pinned_walk_out_depth_m",
            "pinned_switch_depth_m",
            "first_room_pin_s",
            "first_room_pin_depth_m",
            "first_room_max_s",
            "first_window_s",
            "released_walk_accuracies",
            "released_walk_min_m",
            "released_walk_away_mps",
            "released_walk_near_m",
            "released_walk_near_accuracies",
            "released_walk_rate_mps",
            "released_walk_mean_mps",
            "released_switch_window_s",
            "released_switch_confirm_s",
            "released_switch_held_s",
            "released_start_m",
            "released_start_accuracies",
            "released_start_margin_m",
            "released_start_min_s",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_margin_m < self.min_margin_m or self.max_margin_m <= 0:
            raise ValueError("max_margin_m must be > 0 and >= min_margin_m")
        if self.reach_m < self.max_margin_m:
            raise ValueError("reach_m must be >= max_margin_m (distances beyond the reach are not measured)")
        if self.moving_speed_mps <= self.parked_speed_mps:
            raise ValueError("moving_speed_mps must be > parked_speed_mps")
        for name in (
            "speed_time_constant_s",
            "speed_gap_s",
            "max_speed_mps",
            "heading_time_constant_s",
            "released_walk_rate_time_constant_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.min_heading_share <= 1:
            raise ValueError(f"min_heading_share must be in (0, 1], got {self.min_heading_share}")
        if self.max_accuracy_m <= 0:
            raise ValueError(f"max_accuracy_m must be > 0, got {self.max_accuracy_m}")

    def margin_m(self, accuracy_m: float, motion: float = 0.0) -> float:
        """How far inside (outside) a fix must be to count as clearly inside (outside); `motion` in [0, 1]."""
        parked = min(max(self.margin_per_accuracy * accuracy_m, self.min_margin_m), self.max_margin_m)
        return parked + motion * (min(self.moving_margin_m, parked) - parked)

    def motion(self, speed_mps: float) -> float:
        """0 = parked, 1 = moving, linear in between."""
        share = (speed_mps - self.parked_speed_mps) / (self.moving_speed_mps - self.parked_speed_mps)
        return min(max(share, 0.0), 1.0)


class ZoneMembership(msgspec.Struct, array_like=True):
    """One zone of one tag: whether it is in, since when, and the start of a pending enter/exit (None = none)."""

    inside: bool
    since: float  # entered at (inside) / first seen inside (pending enter)
    pending: float | None = (
        None  # start of a clearly-outside run (inside) / clearly-inside run (not yet inside)
    )
    depth_sum: float = 0.0  # pending enter: sum of the signed distances (m) of the fixes since `since`
    fixes: int = 0  # ... and how many there were
    # inside, speed-aware: the signed distance at the last fix, its time, and the rate it changes at (exponential
    # mean, m/s): a tag walking along a wall moves fast but not *out of* its zone, so it is judged as parked
    d: float | None = None
    d_ts: float | None = None
    rate: float = 0.0
    # (field added later) inside: admitted as the tag's first room on a pin shallower than first_room_pin_depth_m
    # (after the wait), a weaker decision than others (see the module docstring)
    shallow_first: bool = False


class TagZoneState(msgspec.Struct, array_like=True):
    """All zones a tag is in or about to enter; zones it is plainly outside of are not stored."""

    ts: float = float("-inf")  # event time (epoch s) of the last fix applied
    zones: dict[str, ZoneMembership] = {}
    unknown_since: float | None = None
    # the tag's own motion (fields added later: states stored before decode with these defaults)
    x: float | None = None  # position (site m) of the last usable fix with a position
    y: float | None = None
    xy_ts: float | None = None  # ... and its event time
    vx: float = 0.0  # exponential mean of the velocity between fixes, m/s
    vy: float = 0.0
    moving_since: float | None = None  # start of the current run of fixes faster than parked (None = parked)
    moved_ts: float | None = None  # event time of the last fix of such a run long enough to be a walk
    # the tracker's stationary flag (fields added later): pinned since (None = not pinned, or not known) and
    # the position of the first fix of the last pinned run
    pinned_since: float | None = None
    pinned_x: float | None = None
    pinned_y: float | None = None
    first_ts: float | None = None  # event time of the tag's first fix (None: not known, e.g. an older state)
    # (fields added later) the first fix since the tracker last released the tag (None: pinned, or not known), and
    # since then the exponential mean of the rate (m/s) its distance from where it was pinned grows at
    released_ts: float | None = None
    away_rate: float = 0.0
    # (field added later) how long the tracker had held the tag pinned before its last release (0: pinned, or not
    # known)
    held_s: float = 0.0

    @property
    def speed_mps(self) -> float:
        return math.hypot(self.vx, self.vy)

    def inside_zones(self) -> list[str]:
        return sorted(zone_id for zone_id, membership in self.zones.items() if membership.inside)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TagZoneState)


def encode_state(state: TagZoneState) -> bytes:
    return _encoder.encode(state)


def decode_state(data: bytes | None) -> TagZoneState:
    """A stored state, or a fresh one when there is none or it cannot be read (e.g. an older format)."""
    if not data:
        return TagZoneState()
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return TagZoneState()


@dataclass(frozen=True, slots=True)
class ZoneTransition:
    """A tag entered or left a zone at event time `ts`; on exit, `dwell_s` is how long it was inside.

    The evidence: `reason` (one of `REASONS`), the fix's signed distance to the zone boundary (`depth_m`, + inside,
    within ±`reach_m`: 3 m means "3 m or more"; for a lingering switch the mean over the time it lingered), its
    `accuracy_m` and the `margin_m` it was judged against (smaller while the tag walks out of its zone)."""

    tag_id: str
    zone_id: str
    kind: str  # ENTER or EXIT
    ts: float
    dwell_s: float | None = None
    reason: str | None = None
    depth_m: float | None = None
    accuracy_m: float | None = None
    margin_m: float | None = None


@dataclass(frozen=True, slots=True)
class ZoneDwell:
    """Per-zone dwell times in seconds (None = the config default)."""

    enter_dwell_s: float | None = None
    exit_dwell_s: float | None = None


def apply_fix(
    tag_id: str,
    state: TagZoneState,
    ts: float,
    accuracy_m: float,
    signed_m: Mapping[str, float],
    config: MembershipConfig,
    dwell: Mapping[str, ZoneDwell] | None = None,
    overlaps: Mapping[str, frozenset[str]] | None = None,
    x: float | None = None,
    y: float | None = None,
    *,
    stationary: bool | None = None,
    noise_ratio: float | None = None,
) -> tuple[TagZoneState, list[ZoneTransition]]:
    """Apply one fix to a tag's state. `signed_m` holds the signed distance to every zone the fix is inside of or
    near (zones not listed are taken as clearly outside). Returns the new state and the transitions it caused.

    `overlaps` (zone -> zones whose area intersects it) makes zones that do *not* overlap mutually exclusive —
    adjacent rooms: a tag in room A moves to room B only on clear evidence (inside B beyond the margin, not by
    lingering at the wall), and leaves A at that moment instead of being in both during A's exit dwell.
    Without it, every zone is judged on its own.

    `x`, `y` (site metres, optional): the fix's position, from which the state keeps the tag's speed — a moving tag
    switches zones on the small moving margin and short dwells. Without them the last estimated speed is kept (a
    fresh tag is at rest, i.e. judged as parked).

    `stationary` (optional): whether the tracker had pinned the tag as parked at this fix. A pinned tag is parked
    for walk detection, and a pin `pinned_walk_m` away from the previous one ends a walk (settling starts; see
    the module docstring). None or False throughout: the membership is what the fixes alone say.

    `noise_ratio` (optional): the tracker's learnt fix noise at this fix (squared innovation per claimed variance;
    ~1 = as claimed). A tag at `noisy_fix_ratio` or above is not moving by its fixes' speed (module docstring)."""
    if ts <= state.ts:
        return state, []
    first_ts = ts if state.ts == float("-inf") else state.first_ts
    if not accuracy_m <= config.max_accuracy_m:  # also catches NaN
        unknown_since = state.unknown_since if state.unknown_since is not None else ts
        return msgspec.structs.replace(state, ts=ts, unknown_since=unknown_since, first_ts=first_ts), []

    xy_ts, vx, vy = state.xy_ts, state.vx, state.vy
    if config.speed_aware and x is not None and y is not None and math.isfinite(x) and math.isfinite(y):
        vx, vy = _velocity(state, ts, x, y, config)
        xy_ts = ts
    else:
        x, y = state.x, state.y
    pinned_since, pinned_x, pinned_y = state.pinned_since, state.pinned_x, state.pinned_y
    walked = False
    if not (config.speed_aware and stationary):
        pinned_since = None
    elif pinned_since is None:  # pinned at this fix: where it was pinned last tells whether it walked since
        pinned_since = ts
        if x is not None and y is not None:
            if pinned_x is not None and pinned_y is not None:
                jump = math.hypot(x - pinned_x, y - pinned_y)
                # nearer, a pin clearly out of the tag's room ends a walk too (docstring)
                out = any(
                    m.inside and signed_m.get(zone_id, -config.reach_m) <= -config.pinned_walk_out_depth_m
                    for zone_id, m in state.zones.items()
                )
                walked = jump >= config.pinned_walk_m or (out and jump >= config.pinned_walk_out_m)
            pinned_x, pinned_y = x, y
    pinned = pinned_since is not None
    released = config.speed_aware and stationary is not None and not stationary
    released_ts, away_rate = _release(state, ts, x, y, pinned_x, pinned_y, released, config)
    held_s = 0.0
    if released and state.pinned_since is not None:  # released at this fix: pinned from then to its last fix
        held_s = state.ts - state.pinned_since
    elif released:
        held_s = state.held_s
    tracked = _track_inside(state.zones, signed_m, ts, config) if config.speed_aware else state.zones
    speed = math.hypot(vx, vy)
    # a tag the tracker pins is parked, whatever its fixes' apparent speed: a walk is over; nor is a noisy tag's
    # apparent speed a walk (below), and so no walk it settles after either (docstring)
    noisy = noise_ratio is not None and noise_ratio >= config.noisy_fix_ratio
    moving_since, moved_ts = _moved(state, tracked, ts, 0.0 if pinned or noisy else speed, config)
    if walked:
        moved_ts = ts
    if state.unknown_since is None and _steady(tracked, signed_m):
        # the common case, kept cheap: nothing can change
        return TagZoneState(
            ts, tracked, None, x, y, xy_ts, vx, vy, moving_since, moved_ts,
            pinned_since, pinned_x, pinned_y, first_ts, released_ts, away_rate, held_s,
        ), []  # fmt: skip

    motion = config.motion(speed)
    departure = _departure(state, ts, x, y, accuracy_m, config, released_ts, away_rate) if released else 0
    if departure == WALKING:
        motion = 1.0  # released and farther from its pin than a parked tag's fixes wander: it walks
        quiet = noise_ratio is None or noise_ratio < config.walked_off_max_noise_ratio
        if quiet and config.walked_off_max_noise_ratio > 0:
            moved_ts = ts  # ... and once it stops, it settles (docstring)
    elif noisy:
        motion = 0.0  # its fixes hop metres in a second: that speed is not a walk (docstring)
    # at a walk's speed (or walking off its pin), before the heading share below
    walking = motion >= 1.0 and not pinned
    just_released = (
        released
        and departure != WALKING
        and released_ts is not None
        and ts - released_ts <= config.released_switch_window_s
        and held_s >= config.released_switch_held_s
    )
    # settling: it stopped, no longer than `settle_s` ago, after walking out of its room (while it walks, the
    # moving margins apply; a tag walking up and down along a wall never heads out of its room: it keeps it)
    settling = moving_since is None and moved_ts is not None and ts - moved_ts <= config.settle_s
    leaving = [-m.rate for m in tracked.values() if m.inside]
    heading = _heading_share(leaving, speed, config)
    if leaving and motion > 0:  # in a zone: only the speed heading out of it counts
        # (a released tag far from its pin is moving even when its speed estimate is still 0, e.g. after a gap)
        motion *= heading
    margin = config.margin_m(accuracy_m, motion)
    enter_confirm_s = _toward(config.enter_confirm_s, config.moving_enter_confirm_s, motion)
    if departure == STARTING:  # a walk starting nearer its pin: a smaller margin, as far as it heads out
        margin = _toward(margin, config.released_start_margin_m, heading)
        enter_confirm_s = _toward(enter_confirm_s, config.moving_enter_confirm_s, heading)
    dwell = dwell or {}
    # a new tag's first fixes come from a part-filled window and a track still converging on them
    # (the realtime chain, which passes the tracker's flag; scripted fixes without it are taken as they come)
    first_window = stationary is not None and first_ts is not None and ts - first_ts < config.first_window_s
    inside_before = [zone_id for zone_id, m in state.zones.items() if m.inside]
    # in no room and not walked since first seen (mostly a new tag): admitted where the tracker settles it
    first_room = not inside_before and stationary is not None and moved_ts is None
    # ... and while it has not walked since, the room it was first admitted to is provisional, one it was admitted
    # to on a shallow pin the more so (docstring)
    rooms_kept = [m for m in state.zones.values() if m.inside] if pinned and moved_ts is None else []
    provisional = first_ts is not None and any(
        m.since - first_ts <= config.first_room_max_s for m in rooms_kept
    )
    shallow_first = any(m.shallow_first for m in rooms_kept)

    def evidence(
        zone_id: str, kind: str, reason: str, depth: float, dwell_s: float | None = None
    ) -> ZoneTransition:
        """A transition at this fix, with why and on what evidence (its accuracy, the margin it was judged on)."""
        return ZoneTransition(tag_id, zone_id, kind, ts, dwell_s, reason, depth, accuracy_m, margin)

    zones: dict[str, ZoneMembership] = {}
    transitions: list[ZoneTransition] = []
    entered: list[str] = []
    for zone_id in set(state.zones) | set(signed_m):
        d = signed_m.get(zone_id, float("-inf"))
        current = tracked.get(zone_id)
        overrides = dwell.get(zone_id)
        if current is None or not current.inside:
            if d < 0:
                continue  # outside (clearly or not): nothing pending
            started = current.since if current is not None else ts
            clear_since = None
            if d >= margin:
                clear_since = current.pending if current is not None and current.pending is not None else ts
            enter_dwell = _pick(overrides.enter_dwell_s if overrides else None, config.enter_dwell_s)
            # entering would leave another room (exclusive rooms): a switch, on surer evidence below
            mine = overlaps.get(zone_id, frozenset()) if overlaps is not None else frozenset()
            switch = overlaps is not None and any(other not in mine for other in inside_before)
            confirm_s = enter_confirm_s
            if just_released and switch:
                # a burst of outlying fixes released a parked tag: its track crosses a wall for a second or so
                confirm_s = max(confirm_s, config.released_switch_confirm_s)
            clearly_in = clear_since is not None and ts - clear_since >= min(confirm_s, enter_dwell)
            depth_sum = (current.depth_sum if current is not None else 0.0) + min(d, margin)
            fixes = (current.fixes if current is not None else 0) + 1
            lingered = ts - started >= enter_dwell
            if lingered and first_room:
                # a new tag in no room: its first room is where the tracker settles it (docstring)
                # ... at once if the pin is deep inside: its bias rarely reaches that far (docstring)
                settled = pinned_since is not None and (
                    ts - pinned_since >= config.first_room_pin_s or d >= config.first_room_pin_depth_m
                )
                lingered = settled or ts - started >= config.first_room_max_s
            if not clearly_in and switch and ts - started < config.switch_dwell_s:
                mean_depth = depth_sum / fixes
                if settling and pinned:
                    # the tracker's pin is already an average over seconds of fixes: waiting adds nothing
                    lingered = d >= config.settle_depth_m
                elif settling:  # just walked here: the room it was in has no incumbent's advantage
                    lingered = ts - started >= min(config.settle_dwell_s, enter_dwell)
                    lingered = lingered and mean_depth >= config.settle_depth_m
                    # ... and fixes deep inside it on average are as clear, the sooner the deeper (docstring)
                    if ts - started >= config.settle_deep_dwell_s:
                        spent = max(ts - started, 1e-9)
                        deep = config.settle_deep_m * math.sqrt(config.settle_deep_dwell_s / spent)
                        lingered = lingered or min(mean_depth, d) >= deep
                elif (
                    walking
                    and ts - started >= config.moving_switch_dwell_s
                    and min(mean_depth, d) >= config.moving_switch_depth_m
                ):
                    # walking on past the wall, not heading straight out of its room (docstring)
                    lingered = True
                elif lingered:
                    # a mean over longer is surer: the depth asked falls as 1/sqrt(time spent), to a floor
                    needed = config.switch_depth_m * math.sqrt(enter_dwell / max(ts - started, 1e-9))
                    # ... but not below a floor over fixes the tracker averaged into one spot (docstring)
                    # (a first room decided on a shallow pin does not ask more of the next pins: no floor)
                    if pinned and not shallow_first:
                        needed = max(needed, config.pinned_switch_depth_m)
                    lingered = mean_depth >= max(needed, config.switch_min_depth_m)
                    # ... or its first room was provisional and its pin is now as deep in this one
                    lingered = lingered or (provisional and d >= config.first_room_pin_depth_m)
            if (clearly_in or lingered) and not first_window:
                zones[zone_id] = ZoneMembership(inside=True, since=ts, d=d, d_ts=ts)
                reason, depth = INSIDE_MARGIN, d
                if not clearly_in:
                    reason = _lingering_reason(switch, settling, first_room)
                    if reason == LINGERED:
                        depth = depth_sum / fixes
                    elif reason == FIRST_ROOM:
                        zones[zone_id].shallow_first = d < config.first_room_pin_depth_m
                transitions.append(evidence(zone_id, ENTER, reason, depth))
                entered.append(zone_id)
            else:
                zones[zone_id] = ZoneMembership(False, started, clear_since, depth_sum, fixes)
            continue
        # inside
        if d >= 0:
            zones[zone_id] = msgspec.structs.replace(current, pending=None)
        elif d <= -margin:
            pending = current.pending if current.pending is not None else ts
            exit_dwell = _pick(overrides.exit_dwell_s if overrides else None, config.exit_dwell_s)
            exit_dwell = _toward(exit_dwell, config.moving_exit_dwell_s, motion)
            if just_released:  # nor does a burst take it out of its room (docstring)
                exit_dwell = max(exit_dwell, config.released_switch_window_s)
            if ts - pending >= exit_dwell:
                beyond = max(d, -config.reach_m)
                transitions.append(evidence(zone_id, EXIT, OUTSIDE_MARGIN, beyond, ts - current.since))
            else:
                zones[zone_id] = msgspec.structs.replace(current, pending=pending)
        else:
            zones[zone_id] = current  # grey band: keep the membership and any pending exit as they are
    if overlaps is not None and entered:
        for zone_id in entered:
            mine = overlaps.get(zone_id, frozenset())
            for other in inside_before:
                kept = zones.get(other)
                if other not in mine and kept is not None and kept.inside:
                    del zones[other]
                    depth = max(signed_m.get(other, -config.reach_m), -config.reach_m)
                    transitions.append(evidence(other, EXIT, ENTERED_OTHER, depth, ts - kept.since))
    transitions.sort(key=lambda t: (t.kind != EXIT, t.zone_id))  # exits first: leave A, then enter B
    state = TagZoneState(
        ts, zones, None, x, y, xy_ts, vx, vy, moving_since, moved_ts,
        pinned_since, pinned_x, pinned_y, first_ts, released_ts, away_rate, held_s,
    )  # fmt: skip
    return state, transitions


def _lingering_reason(switch: bool, settling: bool, first_room: bool) -> str:
    """Why a tag that never cleared the margin was admitted (see `apply_fix`'s lingering branches)."""
    if switch:
        return SETTLED if settling else LINGERED
    return FIRST_ROOM if first_room else DWELLED


def _track_inside(
    zones: dict[str, ZoneMembership], signed_m: Mapping[str, float], ts: float, config: MembershipConfig
) -> dict[str, ZoneMembership]:
    """The zones with, for those the tag is in, the rate its signed distance changes at brought up to `ts`."""
    out = dict(zones)
    for zone_id, m in zones.items():
        if not m.inside:
            continue
        d = max(signed_m.get(zone_id, -config.reach_m), -config.reach_m)
        rate = m.rate
        if m.d is not None and m.d_ts is not None and 0.0 < ts - m.d_ts <= config.speed_gap_s:
            dt = ts - m.d_ts
            step = min(max((d - m.d) / dt, -config.max_speed_mps), config.max_speed_mps)
            rate += (1.0 - math.exp(-dt / config.heading_time_constant_s)) * (step - rate)
        else:
            rate = 0.0
        out[zone_id] = msgspec.structs.replace(m, d=d, d_ts=ts, rate=rate)  # (keeps any field added later)
    return out


def _velocity(
    state: TagZoneState, ts: float, x: float, y: float, config: MembershipConfig
) -> tuple[float, float]:
    """The tag's velocity (m/s): an exponential mean over ~`speed_time_constant_s` of the velocity between its
    successive fixes — a pure function of the fixes, so a replay decides the same. Restarts at rest after a gap."""
    if state.x is None or state.y is None or state.xy_ts is None:
        return 0.0, 0.0
    dt = ts - state.xy_ts
    if not 0.0 < dt <= config.speed_gap_s:
        return 0.0, 0.0
    weight = 1.0 - math.exp(-dt / config.speed_time_constant_s)
    step_x, step_y = (x - state.x) / dt, (y - state.y) / dt
    step = math.hypot(step_x, step_y)
    if step > config.max_speed_mps:
        step_x, step_y = step_x * config.max_speed_mps / step, step_y * config.max_speed_mps / step
    return state.vx + weight * (step_x - state.vx), state.vy + weight * (step_y - state.vy)


def _moved(
    state: TagZoneState,
    tracked: Mapping[str, ZoneMembership],
    ts: float,
    speed: float,
    config: MembershipConfig,
) -> tuple[float | None, float | None]:
    """(start of the current run of fixes faster than parked, the last fix of such a run that had lasted
    `settle_motion_s` — a glitch is shorter — while heading out of the tag's rooms, if any)."""
    if speed <= config.parked_speed_mps:
        return None, state.moved_ts
    since = state.moving_since if state.moving_since is not None else ts
    if ts - since < config.settle_motion_s:
        return since, state.moved_ts
    leaving = [-m.rate for m in tracked.values() if m.inside]
    heading_out = _heading_share(leaving, speed, config) >= 1.0
    return since, ts if heading_out else state.moved_ts


def _departure(
    state: TagZoneState,
    ts: float,
    x: float | None,
    y: float | None,
    accuracy_m: float,
    config: MembershipConfig,
    released_ts: float | None,
    away_rate: float,
) -> int:
    """How clearly a released tag walks off where the tracker last pinned it, while its fixes move away from
    there: WALKING when it is farther than a parked tag's fixes wander (nearer, `released_walk_near_m`, when its
    distance from there grows as a walk's does since the release), STARTING when it is nearer still
    (`released_start_m`) but its distance grows as steadily, else 0. A tag that walked off and stopped waits
    for its next pin as a parked tag."""
    px, py = state.pinned_x, state.pinned_y
    if x is None or y is None or px is None or py is None:
        return 0
    far = math.hypot(x - px, y - py)
    needed = max(config.released_walk_min_m, config.released_walk_accuracies * accuracy_m)
    steady = (  # its distance from the pin grows fast now, and grew as fast since the release: a walk
        released_ts is not None
        and away_rate >= config.released_walk_rate_mps
        and far >= config.released_walk_mean_mps * max(ts - released_ts, 1.0)
    )
    if steady:
        needed = min(
            needed, max(config.released_walk_near_m, config.released_walk_near_accuracies * accuracy_m)
        )
    level = WALKING if far >= needed else 0
    if not level and steady and released_ts is not None and ts - released_ts >= config.released_start_min_s:
        starting = max(config.released_start_m, config.released_start_accuracies * accuracy_m)
        level = STARTING if far >= starting else 0
    if not level:
        return 0
    away = _away_step(state, ts, x, y, px, py)
    return level if away is None or away[0] >= config.released_walk_away_mps else 0


def _release(
    state: TagZoneState,
    ts: float,
    x: float | None,
    y: float | None,
    pinned_x: float | None,
    pinned_y: float | None,
    released: bool,
    config: MembershipConfig,
) -> tuple[float | None, float]:
    """(the first fix since the tracker released the tag, None while pinned or not known; the exponential mean
    of the rate its distance from where it was pinned grows at since then, m/s)."""
    if not released:
        return None, 0.0
    released_ts = state.released_ts
    if released_ts is None:
        if state.pinned_since is None:  # released before its state kept this (an older state): not known
            return None, 0.0
        released_ts = ts
    away = _away_step(state, ts, x, y, pinned_x, pinned_y)
    if away is None or away[1] > config.speed_gap_s:
        return released_ts, 0.0
    step, dt = away
    rate = state.away_rate if released_ts < ts else 0.0
    weight = 1.0 - math.exp(-dt / config.released_walk_rate_time_constant_s)
    return released_ts, rate + weight * (step - rate)


def _away_step(
    state: TagZoneState, ts: float, x: float | None, y: float | None, px: float | None, py: float | None
) -> tuple[float, float] | None:
    """(the rate, m/s, at which the tag's distance from (px, py) grew since its last fix; the time since), or None
    when a position is missing or time did not advance."""
    if x is None or y is None or px is None or py is None:
        return None
    if state.x is None or state.y is None or state.xy_ts is None or ts <= state.xy_ts:
        return None
    dt = ts - state.xy_ts
    return (math.hypot(x - px, y - py) - math.hypot(state.x - px, state.y - py)) / dt, dt


def _heading_share(leaving: list[float], speed: float, config: MembershipConfig) -> float:
    """0-1: how much of the tag's speed heads out of its zones (1 when it is in none); `leaving` holds the rate
    (m/s) it leaves each zone it is in at."""
    if not leaving:
        return 1.0
    return min(max(max(leaving) / (config.min_heading_share * max(speed, 1e-9)), 0.0), 1.0)


def _toward(parked: float, moving: float, motion: float) -> float:
    """A parked tag's number moved toward the moving one by `motion` (never beyond the parked one)."""
    return parked + motion * (min(moving, parked) - parked)


def _steady(zones: Mapping[str, ZoneMembership], signed_m: Mapping[str, float]) -> bool:
    """Inside every stored zone with nothing pending, and not inside any other zone."""
    for zone_id, membership in zones.items():
        if not membership.inside or membership.pending is not None or signed_m.get(zone_id, -1.0) < 0:
            return False
    return all(d < 0 or zone_id in zones for zone_id, d in signed_m.items())


def _pick(override: float | None, default: float) -> float:
    return default if override is None else override


def walk(
    tag_id: str,
    fixes: Iterable[tuple[float, float, Mapping[str, float]]],
    config: MembershipConfig,
    state: TagZoneState | None = None,
    dwell: Mapping[str, ZoneDwell] | None = None,
    overlaps: Mapping[str, frozenset[str]] | None = None,
) -> tuple[TagZoneState, list[ZoneTransition]]:
    """Apply a sequence of (ts, accuracy_m, signed distances) fixes in order; handy for scripted tracks."""
    state = state or TagZoneState()
    events: list[ZoneTransition] = []
    for ts, accuracy_m, signed in fixes:
        state, new = apply_fix(tag_id, state, ts, accuracy_m, signed, config, dwell, overlaps)
        events.extend(new)
    return state, events
