"""Building a microVM where /dev/kvm is missing or is not KVM: upstream's
errors, word for word, although squib tried to make the VM shell at
start-up (docs/machine.md, "The VM shell is made before it is asked for").

Upstream (vstate/kvm.rs Kvm::new): /dev/kvm that does not open is
KvmError::Kvm ("Error creating KVM object: {os} Make sure ..."); one that
opens but answers KVM_GET_API_VERSION with anything but 12 is
KvmError::ApiVersion with the raw result, -1 for a failed ioctl. Both come
under StartMicrovmError::Kvm ("Kvm error: ") and the action's prefix.

squib runs in a mount namespace of its own (unshare -m) with a tmpfs on
/dev holding only /dev/null, and for the second case an empty regular
file named kvm. Neither needs KVM, so these run on every machine where
namespaces can be made (root).
"""
import os
import shutil
import subprocess

import pytest

START_ERR = "Start microvm error: Kvm error: "
NO_KVM = (START_ERR + "Error creating KVM object: No such file or directory "
          "(os error 2) Make sure the user launching the firecracker process "
          "is configured on the /dev/kvm file's ACL.")
NOT_KVM = START_ERR + "The host kernel reports an invalid KVM API version: -1"


def namespaces_usable():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return r.returncode == 0


pytestmark = pytest.mark.skipif(not namespaces_usable(),
                                reason="needs root and unshare -m")


def private_dev(kvm_file):
    setup = "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3"
    if kvm_file:
        setup += " && : > /dev/kvm"
    return ["unshare", "-m", "sh", "-c", setup + ' && exec "$@"', "sh"]


def configured(squib, tmp_path):
    kernel = tmp_path / "vmlinux"
    kernel.write_bytes(b"\x7fELF" + bytes(60))
    api = squib.client()
    r = api.put("/boot-source", {"kernel_image_path": str(kernel)})
    assert r.status == 204, r.raw
    return api


@pytest.mark.parametrize("kvm_file,fault", [(False, NO_KVM), (True, NOT_KVM)],
                         ids=["missing", "not-kvm"])
def test_start_without_kvm(squib_factory, tmp_path, kvm_file, fault):
    s = squib_factory(prefix=private_dev(kvm_file))
    api = configured(s, tmp_path)
    for _ in range(2):  # the second try makes its own shell, same error
        r = api.put("/actions", {"action_type": "InstanceStart"})
        assert r.status == 400, r.raw
        assert r.fault == fault
    assert api.get("/").status == 200
    assert s.proc.poll() is None
    out = s.output()
    assert "fc_vm_prepare" not in out, "the thread made at start-up logged"
