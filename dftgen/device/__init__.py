"""The simulated IPU device layer (docs/device-model.md).

    dftgen.device.get("ipu-bow", n=1)      a Device: spec, n, JAX devices, admit, map_batch
    dftgen.device.configure_host_devices(n)  n JAX host devices for a Pod (before JAX starts)
    dftgen.device.DeviceError               raised when a program or molecule breaks a rule

Modules: specs (hardware as data), memory (analytic model, XLA memory analysis), tiles (ERI
quartets onto tiles), cost (BSP time model), rules (float32 check, compile cache), pod (Pod
emulation), report (`dftgen device report`), commands (CLI registration).
"""

from dftgen.device.device import Admission, Device, MemoryAssessment, get
from dftgen.device.pod import configure_host_devices
from dftgen.device.rules import COMPILE_CACHE, DeviceError
from dftgen.device.specs import SPECS, DeviceSpec

__all__ = ["Admission", "Device", "MemoryAssessment", "get", "configure_host_devices",
           "COMPILE_CACHE", "DeviceError", "SPECS", "DeviceSpec"]
