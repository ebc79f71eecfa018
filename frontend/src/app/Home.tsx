// "/": the officer's only crossing point opens at once; several get a picker.

import { useEffect } from "preact/hooks";
import { useLocation } from "preact-iso";
import { t } from "../i18n";
import { me, pointInfo, pointsServed } from "./session";

export function Home() {
  const { route } = useLocation();
  const points = pointsServed(me.value);
  useEffect(() => {
    if (points.length === 1) route(`/points/${points[0]}`, true);
  }, [points.join(",")]);
  if (points.length === 1) return null;
  return (
    <section class="picker panel" data-testid="picker">
      <h1>{t("home.choose")}</h1>
      {points.length === 0 ? (
        <p class="hint">{t("home.none")}</p>
      ) : (
        <ul class="point-list">
          {points.map((code) => (
            <li key={code}>
              <a href={`/points/${code}`}>
                <bdi>{pointInfo(code)?.name ?? code}</bdi> <span class="hint">({code})</span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
