// The console's one script. Pages work without it; it only makes them live.
"use strict";
