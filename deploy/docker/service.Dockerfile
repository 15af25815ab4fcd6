# syntax=docker/dockerfile:1
# One recipe, six images: build with the repository root as context, e.g.
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=query --build-arg PACKAGE=query -t aid/query .
# The image holds only the service's package, the contracts and the chassis, installed with the
# pinned versions of constraints.txt, and runs as an unprivileged user.
FROM python:3.11.10-slim-bookworm AS build
ARG SERVICE
WORKDIR /src
COPY constraints.txt ./
COPY contracts ./contracts
COPY libs/chassis ./libs/chassis
COPY services/${SERVICE} ./services/${SERVICE}
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt ./contracts ./libs/chassis ./services/${SERVICE}

FROM python:3.11.10-slim-bookworm
ARG PACKAGE
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin aid
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 AID_PACKAGE=${PACKAGE}
USER 10001
# api (default), worker or migrate: `python -m <package> <command>`
ENTRYPOINT ["sh", "-c", "exec python -m \"$AID_PACKAGE\" \"$@\"", "--"]
CMD ["api"]
