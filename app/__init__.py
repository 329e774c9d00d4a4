"""catscope explorer: the Panel web app (UI only; every computation is an ``engine`` call)."""
