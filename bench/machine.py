"""What the results were measured on: CPU, cores, library versions, threading, BLAS settings.

The peak FLOP rate is an estimate, not a measurement::

    peak per core = GHz x FMA units x SIMD lanes x 2   (an FMA is two FLOPs)

with ``GHz`` the ``cpu MHz`` of ``/proc/cpuinfo`` (the current clock, not the boost clock),
2 FMA units per core, and SIMD lanes = 256 bits / element size on AMD (Zen 2-4 execute
AVX-512 as two 256-bit halves) and on CPUs without AVX-512, 512 bits / element size on Intel
CPUs with AVX-512.  The training kernels are single-threaded, so their ``% of peak`` is per core.
"""

import os
import platform
import sys

FMA_UNITS = 2


def _cpuinfo():
    info = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    if info:
                        break  # first processor only
                    continue
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def simd_bits(vendor, flags):
    if "avx512f" in flags and "Intel" in vendor:
        return 512
    if "avx2" in flags or "avx" in flags or "avx512f" in flags:
        return 256
    return 128


def machine_info():
    """A JSON-ready dict describing this machine and the software versions."""
    import numba
    import numpy as np

    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    vendor = cpu.get("vendor_id", "")
    try:
        ghz = float(cpu.get("cpu MHz", "nan")) / 1000.0
    except ValueError:
        ghz = float("nan")
    bits = simd_bits(vendor, flags)
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel function has run yet
        layer = "not initialised (config: %s)" % numba.config.THREADING_LAYER
    cores = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    per_core = {dt: ghz * FMA_UNITS * (bits // (8 * size)) * 2
                for dt, size in (("float64", 8), ("float32", 4))}
    return {
        "cpu_model": cpu.get("model name", platform.processor() or "unknown"),
        "cpu_vendor": vendor,
        "cpu_mhz": ghz * 1000.0,
        "simd": "avx512f" if "avx512f" in flags else ("avx2" if "avx2" in flags else "other"),
        "logical_cores": cores,
        "usable_cores": usable,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": layer,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "blas_env": {k: v for k, v in sorted(os.environ.items())
                     if k.startswith(("OPENBLAS", "OMP_", "MKL_", "NUMBA_"))},
        "peak_gflops_per_core": per_core,
        # runnable processes averaged over 1, 5, 15 min: > 1 on 2 cores means a busy neighbour
        "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "peak_assumptions": "GHz (cpu MHz of /proc/cpuinfo) x %d FMA units x %d-bit SIMD lanes "
                            "x 2 FLOPs per FMA" % (FMA_UNITS, bits),
    }
