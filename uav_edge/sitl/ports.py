"""Free PX4-convention instances on 127.0.0.1 (vehicle binds 14580+i, pushes to 14540+i)."""
import socket

VEHICLE_PORT, GCS_PORT = 14580, 14540


def ports_free(ports, host='127.0.0.1'):
    """True if every UDP port can be bound on host right now."""
    socks = []
    try:
        for port in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


class InstanceAllocator:
    """Hands out blocks of consecutive instances in [lo, hi) whose vehicle and GCS ports are free,
    round-robin, so parallel users (e.g. test files) with disjoint ranges never collide."""

    def __init__(self, lo, hi):
        self.lo, self.hi, self.next = lo, hi, lo

    def take(self, count):
        for _ in range(self.hi - self.lo):
            i = self.next
            self.next = self.lo if i + count >= self.hi - 1 else i + count
            if i + count < self.hi and ports_free(
                    [p + i + k for k in range(count) for p in (GCS_PORT, VEHICLE_PORT)]):
                return i
        raise RuntimeError('no free PX4 SITL ports on 127.0.0.1')
