"""N simulated vehicles in one process: one thread, one select loop, physics at a fixed wall rate.

    with Fleet(count=2, speed=5.0) as fleet:     # binds 127.0.0.1:14580/14581, pushes to 14540/14541
        ...fly them with MAVSDK on udpin://127.0.0.1:14540 / :14541...
        fleet.vehicle(0).armed                   # read state directly (take fleet.lock to be exact)

Each tick (default 50 Hz wall): drain the sockets, compute every vehicle's propulsion power with
the twin's rotary-wing model in one vectorised call, step the physics by
`dt_wall * SIM_SPEED_FACTOR` sim seconds, send due telemetry. Commands are handled the moment
they arrive, so an ACK does not wait for the next tick.

The vehicles' wall clock is a `uav_edge.stall.StallClock`: when this process was not scheduled
for a while (a frozen VM, a starved interpreter), the time it did not see does not count against
its clients. PX4 SITL gets the same from lockstep with its simulator; without it, a simulator
descheduled for 1 s would wake up, find the last offboard setpoint 1 s old and fail safe to Return
although the client was frozen with it. After a stall, a link that was alive when it began is not
judged lost for as long as the stall lasted (up to STALL_RECOVERY_S): every process of the machine then
competes for the CPU at once (seen in CI after a 1.7 s VM freeze: a UAV's process was scheduled again
~0.8 s after the simulator, which failed it safe to Return). A link already silent gets no grace, so
repeated stalls cannot postpone a real loss.
"""
import selectors
import threading
import time

import numpy as np

from uav_edge.core.energy import RotaryWingParams, climb_power, propulsion_power
from uav_edge.core.frames import ned_to_geodetic
from uav_edge.sitl.mavlink_link import LOCALHOST, VehicleLink
from uav_edge.sitl.vehicle import Vehicle
from uav_edge.stall import StallClock

DEFAULT_HOME = (47.397742, 8.545594, 488.0)      # PX4 SITL's default home (Zurich), deg, deg, m AMSL
STALL_RECOVERY_S = 2.0     # after a stall, clients get as long as it lasted, up to this, before a link-loss failsafe


def _checked_home(home):
    try:
        lat, lon, alt = (float(v) for v in home)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'home: expected (lat_deg, lon_deg, alt_m), got {home!r}') from exc
    if not (np.isfinite([lat, lon, alt]).all() and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f'home: latitude must be in [-90, 90], longitude in [-180, 180], all finite; got {home!r}')
    return lat, lon, alt


class Fleet:
    """Start/stop `count` PX4-compatible vehicles (instances first_instance .. first_instance+count-1).

    home: (lat_deg, lon_deg, alt_m AMSL) of instance first_instance; the others stand spacing_m
    further east each. params: PX4 parameter overrides for every vehicle (e.g. {'MIS_TAKEOFF_ALT': 5}).
    speed: SIM_SPEED_FACTOR (sim seconds per wall second). bind_ports / gcs_ports: explicit UDP
    ports per vehicle instead of PX4's 14580+i / 14540+i (0 binds an ephemeral port; a gcs port
    of 0 disables the default push).
    """

    def __init__(self, count=1, first_instance=0, home=DEFAULT_HOME, seed=0, params=None, speed=None,
                 physics_hz=50.0, spacing_m=3.0, boot_delay_s=0.5, bind_ports=None, gcs_ports=None,
                 host=LOCALHOST, rotor=RotaryWingParams()):
        if int(count) != count or count < 1:
            raise ValueError(f'count: must be a positive integer, got {count!r}')
        if int(first_instance) != first_instance or not 0 <= first_instance <= 249:
            raise ValueError(f'first_instance: must be an integer in [0, 249], got {first_instance!r}')
        if first_instance + count > 250:
            raise ValueError(f'count: instances {first_instance}..{first_instance + count - 1} exceed system id 250')
        if not (np.isfinite(physics_hz) and 1.0 <= physics_hz <= 1000.0):
            raise ValueError(f'physics_hz: must be in [1, 1000] Hz, got {physics_hz!r}')
        if host != LOCALHOST:
            raise ValueError(f'host: only {LOCALHOST} is supported (loopback only), got {host!r}')
        self.home = _checked_home(home)
        self.count, self.first_instance = int(count), int(first_instance)
        self.seed, self.physics_hz = int(seed), float(physics_hz)
        self.rotor = rotor
        overrides = dict(params or {})
        if speed is not None:
            overrides['SIM_SPEED_FACTOR'] = speed
        self.lock = threading.RLock()
        self.links = []
        self._thread = None
        self._stop = threading.Event()
        self.stats = {'ticks': 0, 'overruns': 0, 'tick_s': []}
        self._record_ticks = False
        self.clock = StallClock()          # the vehicles' wall clock (see the module docstring)
        start = self.clock()
        try:
            for k in range(self.count):
                i = self.first_instance + k
                home_k = ned_to_geodetic([0.0, k * spacing_m, 0.0], self.home)
                v = Vehicle(i, tuple(float(x) for x in home_k), overrides, seed=self.seed,
                            boot_delay_s=boot_delay_s, wall_s=start)
                self.links.append(VehicleLink(
                    v, None if bind_ports is None else bind_ports[k], None if gcs_ports is None else gcs_ports[k],
                    host, np.random.default_rng([self.seed, i, 1])))
        except Exception:
            self.close()
            raise
        self.selector = selectors.DefaultSelector()
        for link in self.links:
            self.selector.register(link.sock, selectors.EVENT_READ, link)

    # --- access -------------------------------------------------------------------------------
    @property
    def vehicles(self):
        return [link.vehicle for link in self.links]

    def vehicle(self, k=0):
        return self.links[k].vehicle

    def gcs_url(self, k=0):
        """MAVSDK URL that receives vehicle k's pushed stream (PX4 SITL convention)."""
        return f'udpin://{self.links[k].default_peer[0]}:{self.links[k].default_peer[1]}'

    def vehicle_url(self, k=0):
        """MAVSDK URL that talks to vehicle k's bound port (the vehicle replies to the sender)."""
        return f'udpout://{LOCALHOST}:{self.links[k].bind_port}'

    # --- running --------------------------------------------------------------------------------
    def tick(self, dt_wall_s, wall_s):
        """One physics tick for every vehicle (twin propulsion power for all of them in one call)."""
        vehicles = [link.vehicle for link in self.links]
        speeds = np.array([v.airspeed_mps() for v in vehicles])
        power = propulsion_power(speeds[:, 0], self.rotor) + climb_power(speeds[:, 1], self.rotor)
        for link, v, p_w in zip(self.links, vehicles, power.tolist()):
            v.step(dt_wall_s * v.params['SIM_SPEED_FACTOR'], wall_s, p_w)
            link.after_step(wall_s)

    def poll(self, timeout_s):
        """Wait up to timeout_s for packets and dispatch them."""
        for key, _ in self.selector.select(max(timeout_s, 0.0)):
            with self.lock:
                key.data.receive(self.clock())

    def run(self, duration_s=None):
        """Run the loop in this thread until stop() (or for duration_s wall seconds)."""
        period = 1.0 / self.physics_hz
        now = self.clock()
        end = None if duration_s is None else now + duration_s
        last = next_tick = now
        stalls, stalled_s = self.clock.stalls, self.clock.stalled_s
        while not self._stop.is_set() and (end is None or now < end):
            self.poll(next_tick - now)
            now = self.clock()
            if now < next_tick:
                continue
            with self.lock:
                if self.clock.stalls != stalls:      # woke from a stall: let the clients catch up as long
                    gap = self.clock.stalled_s - stalled_s + self.clock.max_step_s      # as it lasted
                    stalls, stalled_s = self.clock.stalls, self.clock.stalled_s
                    for v in self.vehicles:
                        v.after_stall(now, min(gap, STALL_RECOVERY_S), now - self.clock.max_step_s)
                t0 = time.perf_counter()
                self.tick(min(now - last, 0.1), now)
                if self._record_ticks:
                    self.stats['tick_s'].append(time.perf_counter() - t0)
            self.stats['ticks'] += 1
            last = now
            next_tick += period
            now = self.clock()
            if next_tick < now:             # could not keep up: count it and do not try to catch up
                self.stats['overruns'] += 1
                next_tick = now + period

    def start(self):
        """Run the loop in a background thread; returns self."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name='uav_edge-sitl', daemon=True)
            self._thread.start()
        return self

    def request_stop(self):
        """Ask the loop to end after the current tick (safe from a signal handler)."""
        self._stop.set()

    def stop(self):
        """End the loop and wait for the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def close(self):
        """Stop the loop and release every socket (idempotent)."""
        self.stop()
        selector = getattr(self, 'selector', None)
        if selector is not None:
            selector.close()
            self.selector = None
        for link in self.links:
            link.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False
