"""When to restart a server that stopped, and when to stop trying (the launcher's supervision).

What systemd's `Restart=on-failure` with `StartLimitBurst` would do, on the embedded default where
there is no systemd: a server that exits is started again after 1 s, then 2, 4, 8, 16 and at most
30 s for each further crash within the window; after more than `limit` crashes within `window_s`
it is left stopped with a clear message, so a server that cannot start (a broken model, a full
disk) does not spin forever, and the others keep serving. A crash older than the window no longer
counts, so a server that ran well for a while starts again at 1 s. Pure bookkeeping: the launcher
(haven/ops/launcher.py) owns the processes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Deque, Optional

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0


@dataclass
class RestartPolicy:
    limit: int = 6
    window_s: float = 600.0
    first_delay_s: float = FIRST_DELAY_S
    max_delay_s: float = MAX_DELAY_S
    _crashes: Deque[float] = field(default_factory=deque, repr=False)

    def crashed(self, now: float) -> Optional[float]:
        """Records a crash at `now`; the seconds to wait before the restart, or None: give up."""
        self._crashes.append(now)
        while self._crashes and self._crashes[0] <= now - self.window_s:
            self._crashes.popleft()
        if len(self._crashes) > self.limit:
            return None
        return min(self.max_delay_s, self.first_delay_s * 2 ** (len(self._crashes) - 1))

    @property
    def recent(self) -> int:
        """Crashes within the window at the last crash."""
        return len(self._crashes)
