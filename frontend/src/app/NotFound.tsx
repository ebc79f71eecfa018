// "Not found or not yours": the hub gives one answer for both (it never says
// whether something it will not show exists), and so does this page.

import { useEffect, useRef } from "preact/hooks";
import { t } from "../i18n";

export function NotFound({ what = "page", ident }: { what?: "page" | "incident" | "alert" | "point" | "operation"; ident?: string }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section class="not-found" data-testid="not-found">
      <h1 tabIndex={-1} ref={heading}>
        {t("notFound.title")}
      </h1>
      <p>{ident ? t(`notFound.${what}` as "notFound.page", { ident }) : t("notFound.page", { ident: location.pathname })}</p>
      <p>{t("notFound.why")}</p>
      <p>
        <a href="/">{t("notFound.home")}</a>
      </p>
    </section>
  );
}
