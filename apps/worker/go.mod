module github.com/heraldhq/herald/apps/worker

go 1.26.8
