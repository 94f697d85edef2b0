"""trajectory_planner (one per UAV): the route over the area and the next setpoint.

In:  pose, energy_alarm.  Out: path (nav_msgs/Path, latched), setpoint (PoseStamped, reliable).
Model: uav_edge.core.planning: A* on a `cell_m` grid around the scenario's no-fly cells, visiting
`coverage_points_m` (the users and RSUs assigned to this UAV by graph.py) in nearest-neighbour
order at `cruise_altitude_m`. When the energy alarm is raised the route is replanned to home.
The setpoint is the first waypoint not yet reached (within `acceptance_radius_m`), every `tick_s`.
The pose is read at each tick (the latest message, dated by its arrival; common.Inbox), not per message:
a pose stream costs the planner nothing between ticks.
Safe behaviour: with a stale pose the setpoint is the last known position (hold) and a WARN.
"""
import numpy as np
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
from std_msgs.msg import Bool

from uav_edge.core import planning
from uav_edge.nodes import contract
from uav_edge.nodes.common import ERROR, WARN, EdgeNode, main_for


class TrajectoryPlanner(EdgeNode):
    def __init__(self, **kwargs):
        super().__init__('trajectory_planner', **kwargs)
        self.cell_m = self.param('cell_m', 50.0)
        self.blocked = planning.occupancy_grid(self.param('area_size_m', [2000.0, 2000.0]),
                                               self.param_array('no_fly_m'), self.cell_m,
                                               self.param('no_fly_margin_m', 0.0))
        self.home = np.array(self.param('home_m', [0.0, 0.0, 0.0]))
        self.points = np.reshape(self.param_array('coverage_points_m'), (-1, 3))
        self.altitude = self.param('cruise_altitude_m', 30.0)
        self.accept_m = self.param('acceptance_radius_m', 5.0)
        self.stale_after_s = self.param('stale_after_s', 1.0)
        self.pose, self.pose_at = None, -np.inf
        self.alarm = False
        self.waypoints = None           # (K, 2) m
        self.next = 0
        self.path_pub = self.make_publisher(Path, 'path', contract.LATCHED)
        self.setpoint_pub = self.make_publisher(PoseStamped, 'setpoint', contract.DECISION)
        self.pose_inbox = self.latest_inbox(PoseStamped, 'pose', contract.SENSOR, contract.read_position)
        self.create_subscription(Bool, 'energy_alarm', self.on_alarm, contract.qos(contract.LATCHED))
        self.create_timer(self.param('tick_s', 0.5), self.tick)

    def take_pose(self):
        """The latest pose, if one arrived since the last tick; the first one plans the route."""
        if (xyz := self.pose_inbox.take()) is not None:
            self.pose, self.pose_at = xyz, self.pose_inbox.arrived_s()
            if self.waypoints is None:
                self.replan()

    def on_alarm(self, msg):
        """A raised alarm replans to home; the mission does not resume when it clears (a new start does)."""
        if bool(msg.data) and not self.alarm:
            self.alarm = True
            if self.pose is not None:
                self.replan()

    def replan(self):
        try:
            if self.alarm:
                self.waypoints = planning.plan_path(self.pose, self.home, self.blocked, self.cell_m)
            else:
                self.waypoints = planning.plan_coverage(self.pose, self.points, self.blocked, self.cell_m,
                                                        return_to_m=self.home)
            self.condition('planning', False)
        except planning.PlanningError as err:
            self.waypoints = np.array([self.pose[:2]])
            self.condition('planning', True, ERROR, f'no route ({err}): holding position')
        self.next = 1 if len(self.waypoints) > 1 else 0
        self.condition('returning', self.alarm, WARN, 'energy reserve: returning home')
        msg = Path()
        msg.header.frame_id = contract.WORLD_FRAME
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.poses = [self.waypoint_pose(w) for w in self.waypoints]
        self.path_pub.publish(msg)
        self.report('route_length_m', planning.path_length(self.waypoints))

    def waypoint_pose(self, xy):
        return contract.make_pose([xy[0], xy[1], self.altitude], self.get_clock().now().to_msg())

    def tick(self):
        self.take_pose()
        if self.pose is None:
            self.condition('no pose', True, WARN, 'waiting for pose: no setpoint')
            return
        self.condition('no pose', False)
        stale = self.now_s() - self.pose_at > self.stale_after_s
        self.condition('stale pose', stale, WARN, 'pose stale: holding last known position')
        if stale:                 # at the cruise altitude: a pose taken in the climb is below the altitude band
            self.setpoint_pub.publish(self.waypoint_pose(self.pose[:2]))
            return
        while self.next < len(self.waypoints) - 1 and \
                np.linalg.norm(self.waypoints[self.next] - self.pose[:2]) <= self.accept_m:
            self.next += 1
        self.setpoint_pub.publish(self.waypoint_pose(self.waypoints[self.next]))
        self.report('waypoint', f'{self.next}/{len(self.waypoints) - 1}')


NODE = TrajectoryPlanner


def main(args=None):
    return main_for(TrajectoryPlanner, args)


if __name__ == '__main__':
    main()
