"""The package, its settings and the train command load no PyTorch or MONAI at import."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_and_command_loads_no_torch() -> None:
    code = (
        "import sys\n"
        "import fracturelab.spine.learned\n"
        "import fracturelab.spine.learned.config\n"
        "import fracturelab.cli.spine_model\n"
        "import fracturelab.cli.spine_semi\n"
        "print(sorted(m for m in ('torch', 'monai') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_lazy_names_resolve() -> None:
    import fracturelab.spine.learned as learned

    assert learned.SpineTrainingConfig().backbone == "cnn"
    assert set(learned.__all__) <= set(dir(learned))
