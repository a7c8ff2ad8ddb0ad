"""Helpers shared by the bench's Python scripts (imported from the script's own folder)."""
import resource


def peak_rss_mb():
    """This process's own peak RSS in MB (VmHWM): ru_maxrss keeps the parent's across fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
