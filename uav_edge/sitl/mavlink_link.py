"""MAVLink 2 over UDP for one simulated vehicle: decode, dispatch to the Vehicle, encode telemetry.

Follows docs/mavlink-vehicle-contract.md (PX4 SITL behaviour as MAVSDK sees it):
system id = instance + 1, component 1; binds 127.0.0.1:14580+i, pushes to 127.0.0.1:14540+i and
also to every address that sent it a packet. No SO_REUSEADDR. pymavlink (dialect common) encodes
and decodes; the socket is non-blocking and driven by the Fleet's select loop.
"""
import math
import socket

import numpy as np
from pymavlink.dialects.v20 import common as mavlink

from uav_edge.sitl import mission as mi
from uav_edge.sitl import vehicle as vh

LOCALHOST = '127.0.0.1'
PX4_BIND_PORT_BASE = 14580
PX4_GCS_PORT_BASE = 14540
FIRMWARE_VERSION = (1, 15, 0)       # reported as PX4 v1.15.0 (official)
MAV_TYPE_GCS = 6
INT32_MAX = 2 ** 31 - 1
PEER_TIMEOUT_S = 30.0               # forget a learned peer after this much silence
MISSION_RETRY_S = 0.5
MISSION_MAX_RETRIES = 5

# SYS_STATUS sensor bits
SENSORS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x2000000       # gyro, accel, mag, baro, GPS, battery
PREARM_CHECK = 0x10000000

CAPABILITIES = (mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT | mavlink.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
                | mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_INT | mavlink.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
                | mavlink.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE
                | mavlink.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_LOCAL_NED
                | mavlink.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
                | mavlink.MAV_PROTOCOL_CAPABILITY_FLIGHT_TERMINATION | mavlink.MAV_PROTOCOL_CAPABILITY_MAVLINK2)

# default telemetry intervals in wall seconds (SET_MESSAGE_INTERVAL changes them)
DEFAULT_INTERVALS_S = {
    mavlink.MAVLINK_MSG_ID_HEARTBEAT: 1.0,
    mavlink.MAVLINK_MSG_ID_SYS_STATUS: 0.5,
    mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 0.1,
    mavlink.MAVLINK_MSG_ID_LOCAL_POSITION_NED: 0.1,
    mavlink.MAVLINK_MSG_ID_ATTITUDE: 0.1,
    mavlink.MAVLINK_MSG_ID_ATTITUDE_QUATERNION: 0.2,
    mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: 0.2,
    mavlink.MAVLINK_MSG_ID_BATTERY_STATUS: 1.0,
    mavlink.MAVLINK_MSG_ID_GPS_RAW_INT: 0.5,
    mavlink.MAVLINK_MSG_ID_HOME_POSITION: 2.0,
    mavlink.MAVLINK_MSG_ID_MISSION_CURRENT: 0.5,
}


def _f(value):
    """A command parameter: None when NaN ('not set', as PX4-flavoured MAVSDK sends it)."""
    return None if value is None or math.isnan(value) else float(value)


def _quaternion(roll, pitch, yaw):
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy)


class Transfer:
    """An in-progress mission upload (vehicle requests items) for one mission_type."""

    def __init__(self, addr, sysid, compid, count, mission_type, wall_s):
        self.addr, self.sysid, self.compid = addr, sysid, compid
        self.count, self.mission_type = count, mission_type
        self.items = []
        self.last_request_s = wall_s
        self.retries = 0


class VehicleLink:
    """The MAVLink face of one Vehicle: a UDP socket, a pymavlink codec, telemetry scheduling."""

    def __init__(self, vehicle, bind_port=None, gcs_port=None, host=LOCALHOST, packet_loss_rng=None):
        self.vehicle = vehicle
        i = vehicle.instance
        self.bind_port = PX4_BIND_PORT_BASE + i if bind_port is None else bind_port
        gcs_port = PX4_GCS_PORT_BASE + i if gcs_port is None else gcs_port
        self.default_peer = (host, gcs_port) if gcs_port else None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, self.bind_port))     # no SO_REUSEADDR: a second vehicle on this port fails here
        except OSError:
            self.sock.close()
            raise
        self.bind_port = self.sock.getsockname()[1]
        self.sock.setblocking(False)
        self.mav = mavlink.MAVLink(None, vehicle.sysid, 1)
        self.mav.robust_parsing = True
        self.peers = {}                                 # addr -> last wall time heard
        self.intervals = dict(DEFAULT_INTERVALS_S)
        # stagger the streams (golden-ratio phases per instance and message) so that N vehicles do
        # not all encode their whole telemetry set on the same tick
        phase = (vehicle.instance * 0.6180339887) % 1.0
        self.next_due = {msg_id: vehicle.boot_wall_s + ((phase + 0.381966 * k) % 1.0) * interval
                         for k, (msg_id, interval) in enumerate(self.intervals.items())}
        self.next_due[mavlink.MAVLINK_MSG_ID_HEARTBEAT] = 0.0        # first heartbeat at once
        self.rng = packet_loss_rng if packet_loss_rng is not None else np.random.default_rng(
            [vehicle.instance, 7])
        self.upload = None
        self.other_plans = {}                            # fence / rally items (stored, not used)
        self.setpoint_log = []                           # (wall time, yaw) of offboard setpoints (bench)
        self.record_setpoints = False
        self.counters = {'rx': 0, 'tx': 0, 'rx_dropped': 0, 'tx_dropped': 0}
        self._geo_cache = None
        self._builders = self._make_builders()
        self._handlers = {
            mavlink.MAVLINK_MSG_ID_HEARTBEAT: self._on_heartbeat,
            mavlink.MAVLINK_MSG_ID_COMMAND_LONG: self._on_command_long,
            mavlink.MAVLINK_MSG_ID_COMMAND_INT: self._on_command_int,
            mavlink.MAVLINK_MSG_ID_SET_POSITION_TARGET_LOCAL_NED: self._on_setpoint_local,
            mavlink.MAVLINK_MSG_ID_SET_POSITION_TARGET_GLOBAL_INT: self._on_setpoint_global,
            mavlink.MAVLINK_MSG_ID_PARAM_REQUEST_READ: self._on_param_request_read,
            mavlink.MAVLINK_MSG_ID_PARAM_REQUEST_LIST: self._on_param_request_list,
            mavlink.MAVLINK_MSG_ID_PARAM_SET: self._on_param_set,
            mavlink.MAVLINK_MSG_ID_MISSION_COUNT: self._on_mission_count,
            mavlink.MAVLINK_MSG_ID_MISSION_ITEM_INT: self._on_mission_item,
            mavlink.MAVLINK_MSG_ID_MISSION_ITEM: self._on_mission_item,
            mavlink.MAVLINK_MSG_ID_MISSION_REQUEST_LIST: self._on_mission_request_list,
            mavlink.MAVLINK_MSG_ID_MISSION_REQUEST_INT: self._on_mission_request,
            mavlink.MAVLINK_MSG_ID_MISSION_REQUEST: self._on_mission_request,
            mavlink.MAVLINK_MSG_ID_MISSION_CLEAR_ALL: self._on_mission_clear_all,
            mavlink.MAVLINK_MSG_ID_MISSION_SET_CURRENT: self._on_mission_set_current,
        }

    def close(self):
        self.sock.close()

    # --- sending ------------------------------------------------------------------------------
    def _lost(self):
        loss = self.vehicle.params['SIM_PKT_LOSS']
        return loss > 0.0 and self.rng.random() * 100.0 < loss

    def _pack(self, msg):
        buf = msg.pack(self.mav)
        self.mav.seq = (self.mav.seq + 1) % 256
        return buf

    def _sendto(self, buf, addr):
        if self._lost():
            self.counters['tx_dropped'] += 1
            return
        try:
            self.sock.sendto(buf, addr)
            self.counters['tx'] += 1
        except OSError:
            pass            # nobody listening / buffer full: UDP semantics

    def broadcast(self, msg):
        """Send to the default GCS address and every peer heard recently."""
        buf = self._pack(msg)
        sent_default = False
        for addr in self.peers:
            self._sendto(buf, addr)
            sent_default |= addr == self.default_peer
        if self.default_peer and not sent_default:
            self._sendto(buf, self.default_peer)

    def reply(self, msg, addr):
        self._sendto(self._pack(msg), addr)

    # --- receiving ------------------------------------------------------------------------------
    def receive(self, wall_s):
        """Drain the socket and dispatch every message (called when select says readable)."""
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if self._lost():
                self.counters['rx_dropped'] += 1
                continue
            try:
                msgs = self.mav.parse_buffer(data) or []
            except Exception:          # pymavlink raises on garbage; a vehicle must survive it
                continue
            if msgs:
                self.peers[addr] = wall_s
            for msg in msgs:
                if msg.get_type() == 'BAD_DATA':
                    continue
                self.counters['rx'] += 1
                handler = self._handlers.get(msg.get_msgId())
                if handler is not None:
                    handler(msg, addr, wall_s)

    def _for_me(self, msg):
        target = getattr(msg, 'target_system', 0)
        return target in (0, self.vehicle.sysid)

    # --- handlers -------------------------------------------------------------------------------
    def _on_heartbeat(self, msg, addr, wall_s):
        if msg.type == MAV_TYPE_GCS:
            self.vehicle.gcs_heartbeat(wall_s)

    def _ack(self, msg, command, result, addr):
        ack = self.mav.command_ack_encode(command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent())
        self.reply(ack, addr)

    def _on_command_long(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        p = [_f(v) for v in (msg.param1, msg.param2, msg.param3, msg.param4)]
        lat, lon, alt = _f(msg.param5), _f(msg.param6), _f(msg.param7)
        self._command(msg, addr, wall_s, msg.command, p, lat, lon, alt, relative_alt=False)

    def _on_command_int(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        p = [_f(v) for v in (msg.param1, msg.param2, msg.param3, msg.param4)]
        lat = None if msg.x == INT32_MAX else msg.x * 1e-7
        lon = None if msg.y == INT32_MAX else msg.y * 1e-7
        if lat == 0.0 and lon == 0.0:
            lat = lon = None
        self._command(msg, addr, wall_s, msg.command, p, lat, lon, _f(msg.z),
                      relative_alt=msg.frame in mi.RELATIVE_FRAMES)

    def _command(self, msg, addr, wall_s, command, p, lat, lon, alt, relative_alt):
        """Execute one command idempotently (MAVSDK retries identical copies) and ACK it."""
        v = self.vehicle
        # COMMAND_INT in a relative frame: z is above home. Not for DO_SET_HOME: MAVSDK sends its
        # absolute altitude in frame 3 and PX4 reads param7 as AMSL there.
        if alt is not None and relative_alt and command != mavlink.MAV_CMD_DO_SET_HOME:
            alt += v.home_geo[2]
        after = None
        if command == mavlink.MAV_CMD_COMPONENT_ARM_DISARM:
            force = p[1] is not None and int(p[1]) == vh.FORCE_MAGIC
            result = v.arm(wall_s, force) if (p[0] or 0.0) > 0.5 else v.disarm(force)
        elif command == mavlink.MAV_CMD_NAV_TAKEOFF:
            result = v.takeoff(alt)
        elif command == mavlink.MAV_CMD_NAV_LAND:
            result = v.land()
        elif command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            result = v.return_to_launch()
        elif command == mavlink.MAV_CMD_NAV_LOITER_UNLIM:
            result = v.hold()
        elif command == mavlink.MAV_CMD_DO_SET_MODE:
            base = int(p[0] or 0)
            if base & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
                result = v.set_mode(int(p[1] or 0), int(p[2] or 0), wall_s)
            else:
                result = vh.UNSUPPORTED
        elif command == mavlink.MAV_CMD_DO_REPOSITION:
            yaw = math.radians(p[3]) if p[3] is not None else None
            result = v.reposition(lat if lat is not None else math.nan, lon if lon is not None else math.nan,
                                  alt, p[0], yaw)
        elif command == mavlink.MAV_CMD_DO_CHANGE_SPEED:
            result = v.change_speed(int(p[0] or 0), p[1])
        elif command == mavlink.MAV_CMD_DO_SET_HOME:
            result = v.set_home((p[0] or 0.0) > 0.5, *(math.nan if x is None else x for x in (lat, lon, alt)))
        elif command == mavlink.MAV_CMD_MISSION_START:
            result = v.start_mission(int(p[0]) if p[0] is not None and p[0] >= 0 else None)
        elif command == mavlink.MAV_CMD_DO_SET_MISSION_CURRENT:
            result = v.set_mission_current(int(p[0] or 0))
        elif command == mavlink.MAV_CMD_DO_FLIGHTTERMINATION:
            result = v.disarm(force=True, reason='Flight termination') if (p[0] or 0.0) > 0.5 else vh.ACCEPTED
        elif command == mavlink.MAV_CMD_SET_MESSAGE_INTERVAL:
            result = self._set_interval(int(p[0] or 0), p[1])
        elif command == mavlink.MAV_CMD_REQUEST_MESSAGE:
            msg_id = int(p[0] or 0)
            result = vh.ACCEPTED if self._builder(msg_id) else vh.UNSUPPORTED
            after = msg_id if result == vh.ACCEPTED else None
        elif command == mavlink.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES:
            result, after = vh.ACCEPTED, mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION
        elif command == mavlink.MAV_CMD_GET_HOME_POSITION:
            result, after = vh.ACCEPTED, mavlink.MAVLINK_MSG_ID_HOME_POSITION
        else:
            result = vh.UNSUPPORTED
        self.flush_events(wall_s)            # new armed state / mode goes out before the ACK
        self._ack(msg, command, result, addr)
        if after is not None:
            self.broadcast(self._builder(after)(wall_s))

    def _set_interval(self, msg_id, interval_us):
        if msg_id not in DEFAULT_INTERVALS_S:
            return vh.DENIED
        if interval_us is None or interval_us == 0:
            self.intervals[msg_id] = DEFAULT_INTERVALS_S[msg_id]
        elif interval_us < 0:
            self.intervals[msg_id] = math.inf
        else:
            self.intervals[msg_id] = max(interval_us * 1e-6, 0.02)
        self.next_due[msg_id] = 0.0
        return vh.ACCEPTED

    # offboard setpoints
    def _setpoint(self, msg, pos, wall_s):
        """Build a Setpoint from a SET_POSITION_TARGET_* message; pos = NED target or None per axis."""
        mask = msg.type_mask
        v = self.vehicle
        vel = [None if mask & (8 << k) else _f(x) for k, x in enumerate((msg.vx, msg.vy, msg.vz))]
        acc = [None if mask & (64 << k) else _f(x) for k, x in enumerate((msg.afx, msg.afy, msg.afz))]
        if msg.coordinate_frame in (mavlink.MAV_FRAME_BODY_NED, mavlink.MAV_FRAME_BODY_OFFSET_NED,
                                    mavlink.MAV_FRAME_BODY_FRD):
            c, s = math.cos(v.yaw), math.sin(v.yaw)
            for vec in (vel, acc):
                if vec[0] is not None or vec[1] is not None:
                    f, r = vec[0] or 0.0, vec[1] or 0.0
                    vec[0], vec[1] = c * f - s * r, s * f + c * r
        yaw = None if mask & 0x400 else _f(msg.yaw)
        yaw_rate = None if mask & 0x800 else _f(msg.yaw_rate)
        if self.record_setpoints:
            self.setpoint_log.append((wall_s, yaw))
        v.set_offboard_setpoint(vh.Setpoint(pos, vel, acc, yaw, yaw_rate), wall_s)

    def _on_setpoint_local(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        v = self.vehicle
        mask = msg.type_mask
        pos = [None if mask & (1 << k) else _f(x) for k, x in enumerate((msg.x, msg.y, msg.z))]
        frame = msg.coordinate_frame
        if frame in (mavlink.MAV_FRAME_LOCAL_OFFSET_NED, mavlink.MAV_FRAME_BODY_OFFSET_NED, mavlink.MAV_FRAME_BODY_FRD):
            dn, de = pos[0] or 0.0, pos[1] or 0.0
            if frame != mavlink.MAV_FRAME_LOCAL_OFFSET_NED:
                c, s = math.cos(v.yaw), math.sin(v.yaw)
                dn, de = c * dn - s * de, s * dn + c * de
            pos = [None if pos[0] is None else v.pos[0] + dn, None if pos[1] is None else v.pos[1] + de,
                   None if pos[2] is None else v.pos[2] + pos[2]]
        self._setpoint(msg, pos, wall_s)

    def _on_setpoint_global(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        v = self.vehicle
        mask = msg.type_mask
        pos = [None, None, None]
        if not mask & 0x3:
            n, e, _ = v.frame.to_ned(msg.lat_int * 1e-7, msg.lon_int * 1e-7, v.home_geo[2])
            pos[0], pos[1] = float(n), float(e)
        if not mask & 0x4 and _f(msg.alt) is not None:
            alt = msg.alt + (v.home_geo[2] if msg.coordinate_frame in mi.RELATIVE_FRAMES else 0.0)
            pos[2] = float(v.frame.to_ned(v.frame.origin[0], v.frame.origin[1], alt)[2])
        self._setpoint(msg, pos, wall_s)

    # parameters
    def _param_value(self, name):
        params = self.vehicle.params
        value, ptype = params.wire_value(name)
        return self.mav.param_value_encode(name.encode(), value, ptype, len(params), params.index(name))

    def _on_param_request_read(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        params = self.vehicle.params
        if msg.param_index >= 0:
            if msg.param_index < len(params):
                self.reply(self._param_value(params.names[msg.param_index]), addr)
        elif msg.param_id in params:
            self.reply(self._param_value(msg.param_id), addr)
        # unknown names get no answer, as on PX4

    def _on_param_request_list(self, msg, addr, wall_s):
        if self._for_me(msg):
            for name in self.vehicle.params.names:
                self.reply(self._param_value(name), addr)

    def _on_param_set(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        params = self.vehicle.params
        if msg.param_id not in params:
            self.broadcast(self.mav.statustext_encode(4, f'unknown parameter {msg.param_id}'.encode()[:50]))
            return
        try:
            params.set_from_wire(msg.param_id, msg.param_value, msg.param_type)
        except ValueError as exc:
            self.broadcast(self.mav.statustext_encode(4, str(exc).encode()[:50]))
        self.broadcast(self._param_value(msg.param_id))     # the (possibly unchanged) value, PX4 style

    # missions
    def _mission_ack(self, addr, sysid, compid, result, mission_type):
        self.reply(self.mav.mission_ack_encode(sysid, compid, result, mission_type), addr)

    def _request_item(self, t):
        self.reply(self.mav.mission_request_int_encode(t.sysid, t.compid, len(t.items), t.mission_type), t.addr)

    def _on_mission_count(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        mtype = getattr(msg, 'mission_type', 0)
        if msg.count == 0:
            self.upload = None
            self._store_plan(mtype, [], wall_s)
            self._mission_ack(addr, msg.get_srcSystem(), msg.get_srcComponent(), mavlink.MAV_MISSION_ACCEPTED, mtype)
            return
        self.upload = Transfer(addr, msg.get_srcSystem(), msg.get_srcComponent(), msg.count, mtype, wall_s)
        self._request_item(self.upload)

    def _on_mission_item(self, msg, addr, wall_s):
        t = self.upload
        if not self._for_me(msg) or t is None or getattr(msg, 'mission_type', 0) != t.mission_type:
            return
        if msg.seq == len(t.items):
            if msg.get_msgId() == mavlink.MAVLINK_MSG_ID_MISSION_ITEM_INT:
                t.items.append(mi.MissionItem.from_int_message(msg))
            else:
                t.items.append(mi.MissionItem.from_float_message(msg))
            t.retries = 0
        t.last_request_s = wall_s
        if len(t.items) == t.count:
            self.upload = None
            self._store_plan(t.mission_type, t.items, wall_s)
            self._mission_ack(t.addr, t.sysid, t.compid, mavlink.MAV_MISSION_ACCEPTED, t.mission_type)
        else:
            self._request_item(t)

    def _store_plan(self, mission_type, items, wall_s):
        if mission_type == mavlink.MAV_MISSION_TYPE_MISSION:
            self.vehicle.set_mission(items)
            self.flush_events(wall_s)
        else:
            self.other_plans[mission_type] = list(items)

    def _plan(self, mission_type):
        if mission_type == mavlink.MAV_MISSION_TYPE_MISSION:
            return self.vehicle.mission_items
        return self.other_plans.get(mission_type, [])

    def _on_mission_request_list(self, msg, addr, wall_s):
        if self._for_me(msg):
            mtype = getattr(msg, 'mission_type', 0)
            self.reply(self.mav.mission_count_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                     len(self._plan(mtype)), mtype), addr)

    def _on_mission_request(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        mtype = getattr(msg, 'mission_type', 0)
        plan = self._plan(mtype)
        if not 0 <= msg.seq < len(plan):
            self._mission_ack(addr, msg.get_srcSystem(), msg.get_srcComponent(), mavlink.MAV_MISSION_INVALID_SEQUENCE,
                              mtype)
            return
        it = plan[msg.seq]
        x, y = it.int_fields()
        current = int(mtype == 0 and msg.seq == self.vehicle.mission_seq)
        self.reply(self.mav.mission_item_int_encode(
            msg.get_srcSystem(), msg.get_srcComponent(), it.seq, it.frame, it.command, current, it.autocontinue,
            it.param1, it.param2, it.param3, it.param4, x, y, it.z, mtype), addr)

    def _on_mission_clear_all(self, msg, addr, wall_s):
        if not self._for_me(msg):
            return
        mtype = getattr(msg, 'mission_type', 0)
        self.upload = None
        self._store_plan(mtype, [], wall_s)
        self._mission_ack(addr, msg.get_srcSystem(), msg.get_srcComponent(), mavlink.MAV_MISSION_ACCEPTED, mtype)

    def _on_mission_set_current(self, msg, addr, wall_s):
        if self._for_me(msg):
            self.vehicle.set_mission_current(msg.seq)
            self.flush_events(wall_s)

    # --- telemetry ------------------------------------------------------------------------------
    def _geo(self):
        """(lat, lon, alt) of the reported position (with GPS noise if enabled), once per tick."""
        if self._geo_cache is None:
            v = self.vehicle
            pos = v.pos
            sigma = v.params['SIM_GPS_NOISE']
            if sigma > 0.0:
                pos = [p + sigma * g for p, g in zip(pos, v.rng.standard_normal(3))]
            lat, lon, alt = v.frame.to_geodetic(pos)
            self._geo_cache = (float(lat), float(lon), float(alt), pos)
        return self._geo_cache

    def _builder(self, msg_id):
        return self._builders.get(msg_id)

    def _make_builders(self):
        return {
            mavlink.MAVLINK_MSG_ID_HEARTBEAT: self._heartbeat,
            mavlink.MAVLINK_MSG_ID_SYS_STATUS: self._sys_status,
            mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: self._global_position,
            mavlink.MAVLINK_MSG_ID_LOCAL_POSITION_NED: self._local_position,
            mavlink.MAVLINK_MSG_ID_ATTITUDE: self._attitude,
            mavlink.MAVLINK_MSG_ID_ATTITUDE_QUATERNION: self._attitude_quaternion,
            mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: self._extended_sys_state,
            mavlink.MAVLINK_MSG_ID_BATTERY_STATUS: self._battery_status,
            mavlink.MAVLINK_MSG_ID_GPS_RAW_INT: self._gps_raw,
            mavlink.MAVLINK_MSG_ID_HOME_POSITION: self._home_position,
            mavlink.MAVLINK_MSG_ID_MISSION_CURRENT: self._mission_current,
            mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION: self._autopilot_version,
        }

    def _ms(self):
        return int(self.vehicle.sim_s * 1000) & 0xFFFFFFFF

    def _heartbeat(self, wall_s):
        v = self.vehicle
        base = mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (mavlink.MAV_MODE_FLAG_SAFETY_ARMED if v.armed else 0)
        status = mavlink.MAV_STATE_ACTIVE if v.armed else mavlink.MAV_STATE_STANDBY
        return self.mav.heartbeat_encode(mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_PX4, base, v.mode, status)

    def _sys_status(self, wall_s):
        v = self.vehicle
        health = SENSORS if v.healthy(wall_s) else 0
        if health and not v.armed and v.remaining > v.params['BAT_EMERGEN_THR']:
            health |= PREARM_CHECK
        return self.mav.sys_status_encode(SENSORS | PREARM_CHECK, SENSORS | PREARM_CHECK, health, 250,
                                          int(v.voltage_v * 1000), int(v.current_a * 100),
                                          int(round(v.remaining * 100)), 0, 0, 0, 0, 0, 0)

    def _global_position(self, wall_s):
        v = self.vehicle
        lat, lon, alt, pos = self._geo()
        hdg = int(round(math.degrees(v.yaw) * 100)) % 36000
        return self.mav.global_position_int_encode(
            self._ms(), int(round(lat * 1e7)), int(round(lon * 1e7)), int(round(alt * 1000)),
            int(round((v.home_ned[2] - pos[2]) * 1000)),
            int(round(v.vel[0] * 100)), int(round(v.vel[1] * 100)), int(round(v.vel[2] * 100)), hdg)

    def _local_position(self, wall_s):
        v = self.vehicle
        pos = self._geo()[3]
        return self.mav.local_position_ned_encode(self._ms(), pos[0], pos[1], pos[2], *v.vel)

    def _attitude(self, wall_s):
        v = self.vehicle
        roll, pitch, yaw = v.attitude()
        return self.mav.attitude_encode(self._ms(), roll, pitch, yaw, 0.0, 0.0, v.yaw_rate)

    def _attitude_quaternion(self, wall_s):
        v = self.vehicle
        q = _quaternion(*v.attitude())
        return self.mav.attitude_quaternion_encode(self._ms(), *q, 0.0, 0.0, v.yaw_rate)

    def _extended_sys_state(self, wall_s):
        return self.mav.extended_sys_state_encode(mavlink.MAV_VTOL_STATE_UNDEFINED, self.vehicle.landed_state)

    def _battery_status(self, wall_s):
        v = self.vehicle
        p = v.params
        n = p['BAT1_N_CELLS']
        cell_mv = int(v.voltage_v * 1000 / n)
        voltages = [cell_mv] * min(n, 10) + [65535] * (10 - min(n, 10))
        soc = v.remaining
        level = v.battery_level() + 1          # MAV_BATTERY_CHARGE_STATE: 1 ok .. 4 emergency
        left_s = int(soc * p['BAT1_CAPACITY'] * 3.6 / v.current_a) if v.current_a > 0.01 else 0
        return self.mav.battery_status_encode(
            0, mavlink.MAV_BATTERY_FUNCTION_ALL, mavlink.MAV_BATTERY_TYPE_LIPO, 2500, voltages,
            int(v.current_a * 100), int(v.discharged_mah), int(v.energy_j / 100), int(round(soc * 100)),
            left_s, level)

    def _gps_raw(self, wall_s):
        v = self.vehicle
        lat, lon, alt, _ = self._geo()
        speed = math.hypot(v.vel[0], v.vel[1])
        cog = int(round(math.degrees(math.atan2(v.vel[1], v.vel[0])) * 100)) % 36000 if speed > 0.1 else 65535
        return self.mav.gps_raw_int_encode(int(v.sim_s * 1e6), mavlink.GPS_FIX_TYPE_3D_FIX, int(round(lat * 1e7)),
                                           int(round(lon * 1e7)), int(round(alt * 1000)), 70, 100,
                                           int(speed * 100), cog, 12)

    def _home_position(self, wall_s):
        v = self.vehicle
        lat, lon, alt = v.home_geo
        return self.mav.home_position_encode(int(round(lat * 1e7)), int(round(lon * 1e7)), int(round(alt * 1000)),
                                             *v.home_ned, [1.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0)

    def _mission_current(self, wall_s):
        v = self.vehicle
        total = len(v.mission_items)
        seq = min(v.mission_seq, max(total - 1, 0))
        return self.mav.mission_current_encode(seq, total, v.mission_state(), int(v.mode == vh.MODE_MISSION))

    def _autopilot_version(self, wall_s):
        major, minor, patch = FIRMWARE_VERSION
        version = (major << 24) | (minor << 16) | (patch << 8) | 255
        uid = 0x5AF00000 + self.vehicle.instance
        return self.mav.autopilot_version_encode(CAPABILITIES, version, version, 0, 0, [0] * 8, [0] * 8, [0] * 8,
                                                 0, 0, uid)

    def flush_events(self, wall_s):
        """Send what the vehicle asked for: status texts, mission progress, an early heartbeat."""
        v = self.vehicle
        events, v.events = v.events, []
        for kind, payload in events:
            if kind == 'statustext':
                severity, text = payload
                self.broadcast(self.mav.statustext_encode(severity, text.encode()[:50]))
            elif kind == 'reached':
                self.broadcast(self.mav.mission_item_reached_encode(payload))
            elif kind == 'heartbeat':         # state changed: tell the GCS now, not at the next 1 Hz beat
                for msg_id in (mavlink.MAVLINK_MSG_ID_HEARTBEAT, mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE,
                               mavlink.MAVLINK_MSG_ID_SYS_STATUS):
                    self.broadcast(self._builders[msg_id](wall_s))
            elif kind == 'mission_current':
                self.next_due[mavlink.MAVLINK_MSG_ID_MISSION_CURRENT] = 0.0
            elif kind == 'home':
                self.next_due[mavlink.MAVLINK_MSG_ID_HOME_POSITION] = 0.0

    def after_step(self, wall_s):
        """Once per physics tick: events, due telemetry, mission-transfer retries, peer expiry."""
        self._geo_cache = None
        self.flush_events(wall_s)
        for msg_id, due in self.next_due.items():
            if wall_s >= due:
                interval = self.intervals[msg_id]
                nxt = due + interval
                self.next_due[msg_id] = nxt if nxt > wall_s else wall_s + interval
                if interval != math.inf:
                    self.broadcast(self._builders[msg_id](wall_s))
        t = self.upload
        if t is not None and wall_s - t.last_request_s > MISSION_RETRY_S:
            t.retries += 1
            t.last_request_s = wall_s
            if t.retries > MISSION_MAX_RETRIES:
                self._mission_ack(t.addr, t.sysid, t.compid, mavlink.MAV_MISSION_OPERATION_CANCELLED, t.mission_type)
                self.upload = None
            else:
                self._request_item(t)
        stale = [a for a, seen in self.peers.items() if wall_s - seen > PEER_TIMEOUT_S]
        for addr in stale:
            del self.peers[addr]
