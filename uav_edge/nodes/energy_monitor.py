"""energy_monitor (one per UAV): remaining energy, endurance and the reserve alarm.

In:  velocity (TwistStamped, ENU m/s), battery (sensor_msgs/BatteryState), offload (CPU power W).
Out: energy (Float64MultiArray [field], contract.ENERGY_FIELDS), energy_alarm (Bool, latched).
Model: every `tick_s` the remaining energy drops by (propulsion_power(|v_xy|) + CPU power) x dt
(uav_edge.core.energy, seed 3 Eq. 21 constants); each valid BatteryState percentage is fused in
with core.energy.fused_energy (weight `battery_weight`). Endurance = core.energy.endurance at the
current power. The alarm is raised at state of charge <= `reserve_fraction` and cleared above
reserve_fraction + `alarm_clear_margin`. A stale velocity is integrated at hover power (WARN).
The velocity is read at each tick (the latest message, dated by its arrival; common.Inbox), not per message.
The alarm is latched (transient local): it is published at start and when it changes, not every tick (three
nodes per UAV subscribe to it; a tick's unchanged copy woke each of them ten times a second).
"""
import numpy as np
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool, Float64MultiArray

from uav_edge.core import energy
from uav_edge.nodes import contract
from uav_edge.nodes.common import ERROR, WARN, EdgeNode, main_for

_CPU_POWER = contract.OFFLOAD_FIELDS.index('cpu_power_w')


def read_battery(msg):
    """State of charge in [0, 1] from BatteryState.percentage (NaN = unknown -> invalid here)."""
    soc = float(msg.percentage)
    if not np.isfinite(soc) or not 0.0 <= soc <= 1.0:
        raise contract.InvalidMessage(f'percentage {soc} outside [0, 1]')
    return soc


class EnergyMonitor(EdgeNode):
    def __init__(self, **kwargs):
        super().__init__('energy_monitor', **kwargs)
        self.capacity_j = self.param('battery_capacity_j', 360000.0)
        self.remaining_j = self.param('initial_state_of_charge', 1.0) * self.capacity_j
        self.reserve_fraction = self.param('reserve_fraction', 0.2)
        self.clear_margin = self.param('alarm_clear_margin', 0.05)
        self.battery_weight = self.param('battery_weight', 0.5)
        self.tick_s = self.param('tick_s', 0.1)
        self.stale_after_s = self.param('stale_after_s', 1.0)
        self.velocity = np.zeros(3)
        self.velocity_at = -np.inf
        self.cpu_power_w = 0.0
        self.cpu_at = -np.inf
        self.alarm = False
        self.alarm_sent = None          # the alarm state last published
        self.last_tick_s = self.now_s()
        self.energy_pub = self.array_publisher('energy', ('field',), (len(contract.ENERGY_FIELDS),), contract.SENSOR)
        self.alarm_pub = self.make_publisher(Bool, 'energy_alarm', contract.LATCHED)
        self.velocity_inbox = self.latest_inbox(TwistStamped, 'velocity', contract.SENSOR, contract.read_velocity)
        self.subscribe(BatteryState, 'battery', contract.SENSOR, read_battery, self.on_battery)
        self.subscribe(Float64MultiArray, 'offload', contract.DECISION,
                       lambda m: contract.read_array(m, ('field',), (len(contract.OFFLOAD_FIELDS),), low=0.0),
                       self.on_offload)
        self.publish_alarm()
        self.create_timer(self.tick_s, self.tick)

    def publish_alarm(self):
        """The alarm state, when it changed since it was last sent (a refused send is tried again next tick)."""
        if self.alarm != self.alarm_sent and self.alarm_pub.publish(Bool(data=self.alarm)):
            self.alarm_sent = self.alarm

    def on_offload(self, fields):
        self.cpu_power_w, self.cpu_at = float(fields[_CPU_POWER]), self.now_s()

    def on_battery(self, soc):
        self.remaining_j = float(energy.fused_energy(self.remaining_j, soc * self.capacity_j, self.battery_weight))
        self.report('battery_state_of_charge', soc)

    def power_w(self, now):
        fresh = now - self.velocity_at <= self.stale_after_s
        self.condition('stale velocity', not fresh, WARN, 'no fresh velocity: integrating hover power')
        speed = float(np.hypot(*self.velocity[:2])) if fresh else 0.0
        cpu = self.cpu_power_w if now - self.cpu_at <= self.stale_after_s else 0.0
        return float(energy.propulsion_power(speed)) + cpu

    def tick(self):
        if (v := self.velocity_inbox.take()) is not None:
            self.velocity, self.velocity_at = v, self.velocity_inbox.arrived_s()
        now = self.now_s()
        dt, self.last_tick_s = max(now - self.last_tick_s, 0.0), now
        power = self.power_w(now)
        self.remaining_j = max(self.remaining_j - power * dt, 0.0)
        soc = self.remaining_j / self.capacity_j
        reserve_j = self.reserve_fraction * self.capacity_j
        endurance_s = float(energy.endurance(self.remaining_j, reserve_j, power))
        if soc <= self.reserve_fraction:
            self.alarm = True
        elif soc > self.reserve_fraction + self.clear_margin:
            self.alarm = False
        self.publish_alarm()
        self.energy_pub.publish([self.remaining_j, soc, power, endurance_s])
        self.condition('low energy', self.alarm, ERROR if soc <= 0.0 else WARN,
                       f'energy reserve reached: {100 * soc:.1f} % left (reserve {100 * self.reserve_fraction:.0f} %)')
        self.report('remaining_j', self.remaining_j)
        self.report('endurance_s', endurance_s)


NODE = EnergyMonitor


def main(args=None):
    return main_for(EnergyMonitor, args)


if __name__ == '__main__':
    main()
